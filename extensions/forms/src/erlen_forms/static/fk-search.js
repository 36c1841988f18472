// Search-as-you-type for foreign-key fields of erlen-forms model forms.
// An <input data-erlen-search="URL" list="ID"> fills its <datalist> from URL?q=... as the user types.
(function () {
  "use strict";
  if (window.erlenFkSearch) { return; }
  window.erlenFkSearch = true;

  function attach(input) {
    var list = document.getElementById(input.getAttribute("list"));
    var url = input.getAttribute("data-erlen-search");
    var timer = null;
    var sequence = 0;
    if (!list || !url) { return; }
    input.addEventListener("input", function () {
      clearTimeout(timer);
      timer = setTimeout(function () {
        var mine = ++sequence;
        var query = url + (url.indexOf("?") < 0 ? "?" : "&") + "q=" + encodeURIComponent(input.value);
        fetch(query, {headers: {"Accept": "application/json"}, credentials: "same-origin"})
          .then(function (response) { return response.ok ? response.json() : {results: []}; })
          .then(function (body) {
            if (mine !== sequence) { return; }
            list.replaceChildren();
            (body.results || []).forEach(function (row) {
              var option = document.createElement("option");
              option.value = row.value;
              option.label = row.label;
              option.textContent = row.label;
              list.appendChild(option);
            });
          })
          .catch(function () {});
      }, 200);
    });
  }

  function init() {
    document.querySelectorAll("input[data-erlen-search]").forEach(attach);
  }
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", init);
  } else {
    init();
  }
})();
