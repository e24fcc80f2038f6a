/* Applies the theme the reader chose last time before the page paints (no flash of the other one).
   Without a stored choice the page follows the system setting (prefers-color-scheme). */
(function () {
  "use strict";
  try {
    var stored = window.localStorage.getItem("mmt-theme");
    if (stored === "light" || stored === "dark") {
      document.documentElement.setAttribute("data-theme", stored);
    }
  } catch (error) {
    /* Storage can be unavailable for file:// pages; the system setting still applies. */
  }
})();
