/* guidekit workshop page: keyboard help (no network, no data).
 *
 * 1. Radio groups: ipywidgets draws radio buttons without a shared name, so every option
 *    is its own Tab stop.  Giving each group one name makes it a native radio group: one
 *    Tab stop, arrow keys move between the options (and choose, as browsers do).
 * 2. "Next dimension" buttons (class gk-ws-next): once the next tab is shown, the keyboard
 *    focus moves to its first heading instead of being lost to the page.
 */
(function () {
  "use strict";
  var groups = 0;

  function nameRadioGroups() {
    var loose = document.querySelectorAll(".widget-radio-box input[type=radio]:not([name])");
    for (var i = 0; i < loose.length; i++) {
      var box = loose[i].closest(".widget-radio-box");
      if (!box.dataset.gkGroup) {
        groups += 1;
        box.dataset.gkGroup = "gk-radio-" + groups;
      }
      loose[i].name = box.dataset.gkGroup;
    }
  }

  function start() {
    nameRadioGroups();
    new MutationObserver(nameRadioGroups).observe(document.body, {
      childList: true,
      subtree: true,
    });
  }

  function pageOf(element) {
    // The tab page holding element: a child of the tab widget's contents panel.
    var page = element;
    while (page && page.parentElement &&
           !page.parentElement.classList.contains("widget-tab-contents")) {
      page = page.parentElement;
    }
    return page && page.parentElement ? page : null;
  }

  function focusWhenShown(page, deadline) {
    var shown = page.offsetParent !== null && !page.classList.contains("lm-mod-hidden");
    if (shown) {
      var target = page.querySelector("h3[tabindex]") ||
        page.querySelector("summary, input, textarea, select, button");
      if (target) {
        target.focus();
        return;
      }
    }
    if (Date.now() < deadline) {
      setTimeout(function () { focusWhenShown(page, deadline); }, 100);
    }
  }

  document.addEventListener("click", function (event) {
    var button = event.target.closest && event.target.closest("button.gk-ws-next");
    if (!button) return;
    var page = pageOf(button);
    var next = page && page.nextElementSibling;
    if (next) focusWhenShown(next, Date.now() + 30000); // the kernel switches the tab
  });

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();
