/* lsl book: nothing wider than the article's column goes unnoticed.
 *
 * - An equation wider than the column (a display equation, or inline math on a phone) is shrunk to
 *   fit, down to 70% of its size; a display equation still too wide scrolls sideways like a wide table.
 * - A container that scrolls sideways because its content is wider than the column (a wide table,
 *   an equation) gets the class `lsl-overflows` and a hint above it, so that a reader knows there
 *   is more to the right. tests/browser_check.py fails on a page where something sticks out of the
 *   column without this cue.
 * Runs when the page has loaded, again once MathJax has typeset, and on every resize.
 */
(function () {
  "use strict";
  var MIN_SCALE = 0.7;
  var SCROLLERS = "div.lsl-table-wrap, div.pst-scrollable-table-container, div.table-wrapper, " +
                  "div.cell_output, div.output, mjx-container[display='true']";

  function article() {
    return document.querySelector("article.bd-article") || document.querySelector("article, main");
  }

  function fitEquations(root) {
    // Reads first (one layout for the whole page), then writes only to the few equations that do not fit.
    var style = getComputedStyle(root);
    var contentRight = root.getBoundingClientRect().right - parseFloat(style.paddingRight || "0");
    var excess = function (eq, display) {      // how many times too wide (1 or less: it fits)
      if (display) return eq.clientWidth > 0 ? eq.scrollWidth / eq.clientWidth : 0;
      var r = eq.getBoundingClientRect(), room = r.width - (r.right - contentRight);
      return room > 0 ? r.width / room : 0;
    };
    var todo = [];
    root.querySelectorAll("mjx-container").forEach(function (eq) {
      var display = eq.getAttribute("display") === "true";
      if (eq.style.fontSize || excess(eq, display) > 1) todo.push([eq, display]);
    });
    todo.forEach(function (item) {
      var eq = item[0], display = item[1], scale = 1;
      eq.style.fontSize = "";
      while (excess(eq, display) > 1 && scale > MIN_SCALE) {      // a step at a time: rounding of em-sized boxes
        scale = Math.max(MIN_SCALE, Math.min(scale - 0.02, Math.floor(scale * 100 / excess(eq, display)) / 100));
        eq.style.fontSize = Math.round(scale * 100) + "%";
      }
    });
  }

  function markScrollers(root) {
    var boxes = Array.from(root.querySelectorAll(SCROLLERS));
    var overflows = boxes.map(function (box) { return box.scrollWidth > box.clientWidth + 1; });   // reads
    boxes.forEach(function (box, k) {                                                              // writes
      var hint = box.previousElementSibling;
      var hasHint = hint && hint.classList.contains("lsl-scroll-hint");
      if (overflows[k] !== box.classList.contains("lsl-overflows")) box.classList.toggle("lsl-overflows", overflows[k]);
      if (overflows[k] && !hasHint) {
        hint = document.createElement("div");
        hint.className = "lsl-scroll-hint";
        hint.setAttribute("aria-hidden", "true");
        hint.textContent = "\u21C6 wider than the page: scroll sideways for the rest";
        box.parentNode.insertBefore(hint, box);
      } else if (!overflows[k] && hasHint) {
        hint.remove();
      }
    });
  }

  function tidy() {
    var root = article();
    if (!root) return;
    fitEquations(root);
    markScrollers(root);
  }

  var pending = null;
  function later() {
    if (pending) clearTimeout(pending);
    pending = setTimeout(tidy, 150);
  }

  window.addEventListener("load", function () {
    tidy();
    if (window.MathJax && MathJax.startup && MathJax.startup.promise) {
      MathJax.startup.promise.then(tidy);
    }
  });
  window.addEventListener("resize", later);
})();
