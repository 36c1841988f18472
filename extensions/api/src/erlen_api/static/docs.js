// Starts Swagger UI on the page of erlen-api's /docs; the document's URL is in the page's data-spec-url.
window.addEventListener("load", function () {
  var root = document.getElementById("swagger-ui");
  window.ui = SwaggerUIBundle({
    url: root.dataset.specUrl,
    dom_id: "#swagger-ui",
    deepLinking: true,
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
});
