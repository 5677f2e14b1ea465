"use strict";
(function () {
  // Sorting and filtering of the pairs index. Reads only textContent and data-* values;
  // never writes HTML. A hash such as #!q=myanmar&rel=paraphrase&sort=score&dir=desc
  // sets the initial view (shareable links).
  var table = document.getElementById("pairs");
  var done = function () { document.body.setAttribute("data-ready", "1"); };
  if (!table) { done(); return; }
  var tbody = table.tBodies[0];
  var rows = Array.prototype.slice.call(tbody.rows);
  var q = document.getElementById("q");
  var rel = document.getElementById("rel");
  var shown = document.getElementById("shown");
  var heads = Array.prototype.slice.call(table.tHead.rows[0].cells);

  function cellValue(row, col) {
    var cell = row.cells[col];
    var v = cell.getAttribute("data-v");
    if (v !== null) { return v === "" ? -Infinity : parseFloat(v); }
    return cell.textContent.toLowerCase();
  }

  function sortBy(col, dir) {
    heads.forEach(function (h) { h.removeAttribute("aria-sort"); });
    heads[col].setAttribute("aria-sort", dir > 0 ? "ascending" : "descending");
    rows.sort(function (x, y) {
      var a = cellValue(x, col), b = cellValue(y, col);
      return a < b ? -dir : a > b ? dir : 0;
    });
    rows.forEach(function (r) { tbody.appendChild(r); });
  }

  function applyFilter() {
    var text = q.value.trim().toLowerCase();
    var want = rel.value;
    var n = 0;
    rows.forEach(function (row) {
      var ok = (!want || row.getAttribute("data-relation") === want) &&
        (!text || row.textContent.toLowerCase().indexOf(text) >= 0);
      row.hidden = !ok;
      var section = document.getElementById(row.getAttribute("data-target"));
      if (section) { section.hidden = !ok; }
      if (ok) { n += 1; }
    });
    shown.textContent = n + " of " + rows.length + " pairs shown";
  }

  heads.forEach(function (h, col) {
    if (!h.classList.contains("sortable")) { return; }
    h.addEventListener("click", function () {
      var dir = h.getAttribute("aria-sort") === "descending" ? 1 : -1;
      sortBy(col, dir);
    });
  });
  q.addEventListener("input", applyFilter);
  rel.addEventListener("change", applyFilter);

  if (location.hash.indexOf("#!") === 0) {
    var params = new URLSearchParams(location.hash.slice(2));
    if (params.has("q")) { q.value = params.get("q"); }
    if (params.has("rel")) { rel.value = params.get("rel"); }
    var key = params.get("sort");
    var col = heads.findIndex(function (h) { return h.getAttribute("data-key") === key; });
    if (col >= 0) { sortBy(col, params.get("dir") === "asc" ? 1 : -1); }
  }
  applyFilter();
  done();
})();
