/* Offline full-text search over the prebuilt shards (site/search/*.js).
   Shards are loaded on the first search, only those the filters can match. A post matches when every
   query word is the beginning of one of its words (case and accents ignored); scripts without spaces
   between words (Chinese, Japanese…) match anywhere. Results are built with DOM APIs only. */
(function () {
  "use strict";

  var MMT = window.MMT;
  var PAGE_SIZE = 50;
  var MAX_RESULTS = 5000;
  var PARALLEL_LOADS = 4;
  var WORD = /[\p{L}\p{N}]+/gu;
  var UNSPACED = /[\p{Script=Han}\p{Script=Hiragana}\p{Script=Katakana}\p{Script=Thai}]/u;

  function fold(text) {
    return text.normalize("NFKD").replace(/\p{M}/gu, "").toLowerCase();
  }

  function words(text) {
    return fold(text).match(WORD) || [];
  }

  var state = { results: [], shown: 0, conversations: {}, people: {} };
  var DAY_MS = 86400000;

  /* Times and days are shown in the zone the site was rendered for (the pages use it too). */
  function zoneOptions(extra) {
    var options = extra || {};
    if (MMT.manifest && MMT.manifest.zone) {
      options.timeZone = MMT.manifest.zone;
    }
    return options;
  }

  var dayFormat = null;
  function dayKey(time) {
    if (!dayFormat) {
      dayFormat = new Intl.DateTimeFormat("en-CA", zoneOptions({ year: "numeric", month: "2-digit", day: "2-digit" }));
    }
    return dayFormat.format(new Date(time));
  }

  function displayTime(time) {
    return new Date(time).toLocaleString("en-GB", zoneOptions({ day: "numeric", month: "short", year: "numeric",
                                                                hour: "2-digit", minute: "2-digit" }));
  }

  function element(tag, className, text) {
    var node = document.createElement(tag);
    if (className) {
      node.className = className;
    }
    if (text !== undefined) {
      node.textContent = text;
    }
    return node;
  }

  function status(text) {
    document.getElementById("search-status").textContent = text;
  }

  function fillFilters(manifest) {
    var convSelect = document.getElementById("f-conv");
    var personSelect = document.getElementById("f-person");
    manifest.conversations.forEach(function (row) {
      state.conversations[row[0]] = row;
      var label = row[3] ? row[1] + " (" + row[3] + ")" : row[1];
      var option = element("option", "", label);
      option.value = row[0];
      convSelect.appendChild(option);
    });
    manifest.people.forEach(function (row) {
      state.people[row[0]] = row;
      var label = row[1] === row[2] ? row[1] : row[1] + " (@" + row[2] + ")";
      var option = element("option", "", label);
      option.value = row[0];
      personSelect.appendChild(option);
    });
  }

  function validDay(value) {
    return /^\d{4}-\d{2}-\d{2}$/.test(value) ? value : null;
  }

  /* Dates filter by calendar day in the site's zone; shards are first narrowed by time with a day's margin. */
  function readForm() {
    var after = validDay(document.getElementById("f-after").value);
    var before = validDay(document.getElementById("f-before").value);
    return {
      text: document.getElementById("q").value,
      conversation: document.getElementById("f-conv").value,
      person: document.getElementById("f-person").value,
      afterDay: after,
      beforeDay: before,
      after: after === null ? null : Date.parse(after + "T00:00:00Z") - DAY_MS,
      before: before === null ? null : Date.parse(before + "T00:00:00Z") + 2 * DAY_MS,
    };
  }

  function wantedShards(query) {
    return MMT.manifest.shards.filter(function (shard) {
      if (query.conversation && shard[0] !== query.conversation) {
        return false;
      }
      if (query.after !== null && shard[4] < query.after) {
        return false;
      }
      if (query.before !== null && shard[3] > query.before) {
        return false;
      }
      return true;
    });
  }

  function loadShards(shards, done) {
    var missing = shards.filter(function (shard) {
      return !MMT.shards[shard[0] + "-" + shard[1]];
    });
    var total = missing.length;
    var finished = 0;
    var next = 0;
    if (total === 0) {
      done();
      return;
    }
    function startOne() {
      if (next >= total) {
        return;
      }
      var shard = missing[next];
      next += 1;
      MMT.loadScript("search/" + shard[0] + "-" + shard[1] + ".js", function () {
        finished += 1;
        status("Loading the search index… " + finished + " of " + total);
        if (finished === total) {
          done();
        } else {
          startOne();
        }
      });
    }
    for (var index = 0; index < PARALLEL_LOADS; index += 1) {
      startOne();
    }
  }

  function matches(tokens, terms) {
    for (var index = 0; index < terms.length; index += 1) {
      var term = terms[index];
      var needle = UNSPACED.test(term) ? term : " " + term;
      if (tokens.indexOf(needle) === -1) {
        return false;
      }
    }
    return true;
  }

  function runSearch(query) {
    var terms = words(query.text);
    if (terms.length === 0 && !query.person) {
      status("Type a word to search for.");
      return;
    }
    var shards = wantedShards(query);
    status("Loading the search index…");
    loadShards(shards, function () {
      var results = [];
      var capped = false;
      shards.forEach(function (shard) {
        var data = MMT.shards[shard[0] + "-" + shard[1]];
        if (!data || capped) {
          return;
        }
        data.posts.forEach(function (post) {
          if (capped) {
            return;
          }
          var author = data.users[post[1]];
          if (query.person && author !== query.person) {
            return;
          }
          if ((query.after !== null && post[2] < query.after) || (query.before !== null && post[2] > query.before)) {
            return;
          }
          if (query.afterDay !== null || query.beforeDay !== null) {
            var day = dayKey(post[2]);
            if ((query.afterDay !== null && day < query.afterDay) || (query.beforeDay !== null && day > query.beforeDay)) {
              return;
            }
          }
          if (!matches(post[3], terms)) {
            return;
          }
          results.push({ conversation: shard[0], part: shard[1], id: post[0], author: author, time: post[2],
                         snippet: post[4], reply: post[5] === 1 });
          if (results.length >= MAX_RESULTS) {
            capped = true;
          }
        });
      });
      results.sort(function (a, b) {
        return b.time - a.time;
      });
      state.results = results;
      state.terms = terms;
      state.shown = 0;
      document.getElementById("search-results").textContent = "";
      var count = results.length === 0 ? "No messages found." :
        (capped ? "More than " + MAX_RESULTS : results.length) + " message" + (results.length === 1 ? "" : "s") + " found.";
      status(count);
      showMore();
    });
  }

  /* Wraps the parts of `text` that start with a query word in <mark>, without parsing any HTML. */
  function highlighted(text, terms) {
    var container = element("p", "result-snippet");
    container.setAttribute("dir", "auto");
    var folded = "";
    var origin = [];
    var characters = Array.from(text);
    var offset = 0;
    characters.forEach(function (character) {
      var piece = fold(character);
      for (var index = 0; index < piece.length; index += 1) {
        origin.push(offset);
      }
      folded += piece;
      offset += character.length;
    });
    origin.push(text.length);
    var marks = [];
    terms.forEach(function (term) {
      var from = 0;
      while (term && from < folded.length) {
        var found = folded.indexOf(term, from);
        if (found === -1) {
          break;
        }
        var before = found === 0 ? "" : folded.charAt(found - 1);
        if (UNSPACED.test(term) || before === "" || !/[\p{L}\p{N}]/u.test(before)) {
          marks.push([origin[found], origin[Math.min(found + term.length, origin.length - 1)]]);
        }
        from = found + term.length;
      }
    });
    marks.sort(function (a, b) {
      return a[0] - b[0];
    });
    var position = 0;
    marks.forEach(function (mark) {
      if (mark[0] < position) {
        return;
      }
      container.appendChild(document.createTextNode(text.slice(position, mark[0])));
      container.appendChild(element("mark", "", text.slice(mark[0], mark[1])));
      position = mark[1];
    });
    container.appendChild(document.createTextNode(text.slice(position)));
    return container;
  }

  function showMore() {
    var list = document.getElementById("search-results");
    var end = Math.min(state.shown + PAGE_SIZE, state.results.length);
    for (var index = state.shown; index < end; index += 1) {
      var result = state.results[index];
      var item = element("li", "search-result");
      var link = element("a", "result-link");
      link.href = "c/" + result.conversation + "/" + result.part + ".html#p-" + result.id;
      var head = element("span", "result-head");
      var conversation = state.conversations[result.conversation];
      head.appendChild(element("bdi", "result-conversation", conversation ? conversation[1] : "conversation"));
      var person = state.people[result.author];
      head.appendChild(element("bdi", "result-author", person ? person[1] : "unknown user"));
      var when = element("time", "result-time", displayTime(result.time));
      when.dateTime = new Date(result.time).toISOString();
      head.appendChild(when);
      if (result.reply) {
        head.appendChild(element("span", "badge", "reply"));
      }
      link.appendChild(head);
      link.appendChild(highlighted(result.snippet, state.terms));
      item.appendChild(link);
      list.appendChild(item);
    }
    state.shown = end;
    document.getElementById("search-more").hidden = state.shown >= state.results.length;
  }

  function init() {
    if (!MMT || !MMT.manifest) {
      status("The search index is missing: run “mmtakeout render” on the archive folder.");
      return;
    }
    fillFilters(MMT.manifest);
    var params = new URLSearchParams(window.location.search);
    document.getElementById("q").value = params.get("q") || "";
    document.getElementById("f-conv").value = params.get("in") || "";
    document.getElementById("f-person").value = params.get("from") || "";
    document.getElementById("f-after").value = params.get("after") || "";
    document.getElementById("f-before").value = params.get("before") || "";
    var postCount = MMT.manifest.shards.reduce(function (sum, shard) {
      return sum + shard[2];
    }, 0);
    status("Search " + postCount.toLocaleString() + " messages on this computer.");
    document.getElementById("search-form").addEventListener("submit", function (event) {
      event.preventDefault();
      var query = readForm();
      try {
        var search = new URLSearchParams();
        ["q", "in", "from", "after", "before"].forEach(function (name, index) {
          var ids = ["q", "f-conv", "f-person", "f-after", "f-before"];
          var value = document.getElementById(ids[index]).value;
          if (value) {
            search.set(name, value);
          }
        });
        window.history.replaceState(null, "", "?" + search.toString());
      } catch (error) {
        /* Some browsers refuse history changes on file:// pages; the search still runs. */
      }
      runSearch(query);
    });
    document.getElementById("search-more").addEventListener("click", showMore);
    if (params.get("q") || params.get("from")) {
      runSearch(readForm());
    } else {
      document.getElementById("q").focus();
    }
  }

  document.addEventListener("DOMContentLoaded", init);
})();
