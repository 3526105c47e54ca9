// Hover details for everything with a data-tip, and kernel highlighting across the
// chart and the tables. Sets data-timeline on <html>: "ready" when this ran through,
// "error" (message in #js-errors) when anything threw.
(function () {
  "use strict";
  var root = document.documentElement;
  window.addEventListener("error", function (e) {
    var box = document.getElementById("js-errors");
    box.hidden = false;
    box.textContent += "script error: " + e.message + "\n";
    root.setAttribute("data-timeline", "error");
  });
  var tip = document.getElementById("tip");
  function place(ev) {
    var x = ev.clientX + 14, y = ev.clientY + 14;
    var w = tip.offsetWidth, h = tip.offsetHeight;
    if (x + w > window.innerWidth - 4) { x = Math.max(4, ev.clientX - w - 14); }
    if (y + h > window.innerHeight - 4) { y = Math.max(4, ev.clientY - h - 14); }
    tip.style.left = x + "px";
    tip.style.top = y + "px";
  }
  function kernelOf(el) {
    var holder = el.closest ? el.closest("[data-kernel]") : null;
    return holder ? holder.getAttribute("data-kernel") : null;
  }
  var hot = [];
  function highlight(kernel) {
    hot.forEach(function (el) { el.classList.remove("hot"); });
    hot = [];
    if (kernel === null) { return; }
    document.querySelectorAll("[data-kernel]").forEach(function (el) {
      if (el.getAttribute("data-kernel") === kernel && !el.classList.contains("tierup")) {
        el.classList.add("hot");
        hot.push(el);
      }
    });
  }
  document.addEventListener("mouseover", function (ev) {
    var t = ev.target;
    var text = t.getAttribute ? t.getAttribute("data-tip") : null;
    if (text) {
      tip.textContent = text;
      tip.hidden = false;
      place(ev);
    } else {
      tip.hidden = true;
    }
    highlight(kernelOf(t));
  });
  document.addEventListener("mousemove", function (ev) {
    if (!tip.hidden) { place(ev); }
  });
  document.addEventListener("mouseleave", function () { tip.hidden = true; highlight(null); });
  if (root.getAttribute("data-timeline") !== "error") {
    root.setAttribute("data-timeline", "ready");
  }
})();
