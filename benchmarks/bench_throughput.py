"""Throughput and accuracy against datasketch and rensa: see :mod:`dedup.bench`.

python benchmarks/bench_throughput.py --docs 10000 --threshold 0.5 --results results
"""

from dedup.bench import main

if __name__ == "__main__":
    main()
