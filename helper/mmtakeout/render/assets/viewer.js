/* The viewer's behaviour on every page: theme toggle, conversation filter, date/part jumps and the
   `index.html?post=ID` resolver. Classic script (no modules, no fetch): data arrives as .js files that
   call the MMT.register* functions below, because browsers refuse fetch() of file:// URLs.
   Nothing here builds HTML from strings: text from the archive only ever goes into textContent. */
(function () {
  "use strict";

  var MMT = (window.MMT = window.MMT || {});
  MMT.maps = {};
  MMT.shards = {};
  MMT.waiting = {};

  MMT.registerNav = function (data) {
    MMT.nav = data;
  };
  MMT.mapChunk = function (bucket, table) {
    MMT.maps[bucket] = table;
  };
  MMT.searchManifest = function (data) {
    MMT.manifest = data;
  };
  MMT.searchShard = function (name, data) {
    MMT.shards[name] = data;
  };

  /* Loads a data script once; calls back with true when it ran, false when it is missing. */
  MMT.loadScript = function (src, done) {
    var script = document.createElement("script");
    script.src = src;
    script.async = true;
    script.onload = function () {
      done(true);
    };
    script.onerror = function () {
      done(false);
    };
    document.head.appendChild(script);
  };

  function storedTheme() {
    try {
      return window.localStorage.getItem("mmt-theme");
    } catch (error) {
      return null;
    }
  }

  function effectiveTheme() {
    var chosen = document.documentElement.getAttribute("data-theme");
    if (chosen === "light" || chosen === "dark") {
      return chosen;
    }
    return window.matchMedia && window.matchMedia("(prefers-color-scheme: dark)").matches ? "dark" : "light";
  }

  function setupThemeToggle() {
    var button = document.getElementById("theme-toggle");
    if (!button) {
      return;
    }
    function label() {
      var dark = effectiveTheme() === "dark";
      /* The label names the action, so no aria-pressed: a pressed-state button keeps one label. */
      button.textContent = dark ? "Light theme" : "Dark theme";
    }
    button.hidden = false;
    button.addEventListener("click", function () {
      var next = effectiveTheme() === "dark" ? "light" : "dark";
      document.documentElement.setAttribute("data-theme", next);
      try {
        window.localStorage.setItem("mmt-theme", next);
      } catch (error) {
        /* The choice then lasts for this page only. */
      }
      label();
    });
    label();
    if (!storedTheme() && window.matchMedia) {
      window.matchMedia("(prefers-color-scheme: dark)").addEventListener("change", label);
    }
  }

  function setupFilter() {
    var input = document.getElementById("conv-filter");
    if (!input) {
      return;
    }
    input.disabled = false;
    var items = document.querySelectorAll(".conv-item");
    var sections = document.querySelectorAll(".conv-section");
    input.addEventListener("input", function () {
      var wanted = input.value.trim().toLowerCase();
      items.forEach(function (item) {
        var name = item.getAttribute("data-name") || "";
        item.hidden = wanted !== "" && name.indexOf(wanted) === -1;
      });
      sections.forEach(function (section) {
        section.hidden = section.querySelector(".conv-item:not([hidden])") === null;
      });
    });
  }

  function mapBucket(postId) {
    var prefix = postId.slice(0, 2);
    return /^[a-z0-9]{2}$/.test(prefix) ? prefix : "_";
  }

  function setupResolver() {
    var status = document.getElementById("resolver-status");
    if (!status) {
      return;
    }
    var params = new URLSearchParams(window.location.search);
    var query = params.get("q");
    if (query) {
      window.location.replace("site/search.html?q=" + encodeURIComponent(query));
      return;
    }
    var postId = params.get("post");
    if (!postId) {
      return;
    }
    if (!/^[A-Za-z0-9_-]{1,64}$/.test(postId)) {
      status.textContent = "That link does not name a message.";
      return;
    }
    status.textContent = "Looking for the message…";
    var bucket = mapBucket(postId);
    MMT.loadScript("site/map/" + bucket + ".js", function () {
      var table = MMT.maps[bucket] || {};
      var place = Object.prototype.hasOwnProperty.call(table, postId) ? table[postId] : null;
      if (!place || !/^[a-z0-9]+$/.test(place[0]) || typeof place[1] !== "number") {
        status.textContent = "This message is not in the archive.";
        return;
      }
      window.location.replace("site/c/" + place[0] + "/" + place[1] + ".html#p-" + postId);
    });
  }

  function option(value, text) {
    var element = document.createElement("option");
    element.value = value;
    element.textContent = text;
    return element;
  }

  function setupJump() {
    var box = document.querySelector("[data-jump]");
    var nav = MMT.nav;
    if (!box || !nav || !nav.parts || nav.parts.length === 0) {
      return;
    }
    var current = Number(document.body.getAttribute("data-part") || "1");
    if (nav.parts.length > 1) {
      var partLabel = document.createElement("label");
      partLabel.textContent = "Part ";
      var select = document.createElement("select");
      nav.parts.forEach(function (part) {
        var text = part[0] + ": " + part[1] + " – " + part[2] + " (" + part[3] + " messages)";
        var item = option(String(part[0]), text);
        item.selected = part[0] === current;
        select.appendChild(item);
      });
      select.addEventListener("change", function () {
        window.location.href = select.value + ".html";
      });
      partLabel.appendChild(select);
      box.appendChild(partLabel);
    }
    var days = nav.days || [];
    if (days.length > 1) {
      var form = document.createElement("form");
      form.className = "jump-date";
      var dateLabel = document.createElement("label");
      dateLabel.textContent = "Go to date ";
      var input = document.createElement("input");
      input.type = "date";
      input.min = days[0][0];
      input.max = days[days.length - 1][0];
      input.required = true;
      dateLabel.appendChild(input);
      var go = document.createElement("button");
      go.type = "submit";
      go.textContent = "Go";
      form.appendChild(dateLabel);
      form.appendChild(go);
      form.addEventListener("submit", function (event) {
        event.preventDefault();
        var wanted = input.value;
        var target = days[days.length - 1];
        for (var index = 0; index < days.length; index += 1) {
          if (days[index][0] >= wanted) {
            target = days[index];
            break;
          }
        }
        var page = target[1] + ".html#d-" + target[0];
        if (target[1] === current) {
          window.location.hash = "d-" + target[0];
        } else {
          window.location.href = page;
        }
      });
      box.appendChild(form);
    }
  }

  function init() {
    setupThemeToggle();
    setupFilter();
    setupResolver();
    setupJump();
  }

  /* Deferred scripts (nav.js, the search manifest) have all run by DOMContentLoaded. */
  document.addEventListener("DOMContentLoaded", init);
})();
