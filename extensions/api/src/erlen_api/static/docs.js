// Starts Swagger UI on the page of erlen-api's /docs; the document's URL is in the page's data-spec-url.
(function () {
  // Swagger UI's dark scheme (html.dark-mode), following the system's as Erlen's pages do.
  var dark = window.matchMedia("(prefers-color-scheme: dark)");
  function followScheme() {
    document.documentElement.classList.toggle("dark-mode", dark.matches);
  }
  followScheme();
  dark.addEventListener("change", followScheme);

  window.addEventListener("load", function () {
    var root = document.getElementById("swagger-ui");
    window.ui = SwaggerUIBundle({
      url: root.dataset.specUrl,
      dom_id: "#swagger-ui",
      // No deep links: Swagger UI draws each operation's link inside the button that opens it (a link nested in
      // a button, which screen readers and keyboards cannot reach as a link).
      deepLinking: false,
      // Example bodies in Swagger UI's plain colours: its highlighting themes draw text below WCAG's contrast.
      syntaxHighlight: { activated: false },
      presets: [SwaggerUIBundle.presets.apis, SwaggerUIStandalonePreset],
      layout: "BaseLayout",
      requestInterceptor: function (request) {
        // Same-site calls with the session cookie need the CSRF token in a header.
        if (root.dataset.csrfToken && root.dataset.csrfHeader) {
          request.headers[root.dataset.csrfHeader] = root.dataset.csrfToken;
        }
        return request;
      },
    });
    labelParameterControls(root);
  });

  // Swagger UI draws a parameter's list of allowed values (a <select>) and the request body's editor (a
  // <textarea>) without a label, and its code blocks out of the keyboard's reach: name each control after what
  // it holds (the parameter, as its row shows it) and let the keyboard focus each code block, whenever Swagger UI
  // draws them.
  function labelParameterControls(root) {
    var unlabelled = "select:not([aria-label]), input:not([aria-label]), textarea:not([aria-label])";
    function label() {
      root.querySelectorAll("tr[data-param-name]").forEach(function (row) {
        row.querySelectorAll(unlabelled).forEach(function (control) {
          control.setAttribute("aria-label", row.dataset.paramName + " (" + row.dataset.paramIn + ")");
        });
      });
      root.querySelectorAll(".body-param__text:not([aria-label])").forEach(function (editor) {
        editor.setAttribute("aria-label", "Request body");
      });
      // Code blocks (a request's curl, an answer's body) scroll sideways: keyboards must reach them to scroll.
      root.querySelectorAll(".highlight-code > pre:not([tabindex]), .curl-command pre:not([tabindex])").forEach(
        function (block) {
          block.tabIndex = 0;
        },
      );
    }
    new MutationObserver(label).observe(root, { childList: true, subtree: true });
  }
})();
