"""Engines that run the scan: the local engine and the Ray engine."""
