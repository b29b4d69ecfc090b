// Starts Swagger UI on the gateway's merged document. A file of its own, not an inline script:
// the page is served under the console's Content-Security-Policy (script-src 'self').
window.addEventListener("load", function () {
  window.ui = SwaggerUIBundle({
    url: "/openapi.json",
    dom_id: "#swagger-ui",
    deepLinking: true,
    validatorUrl: null,
    presets: [SwaggerUIBundle.presets.apis],
    layout: "BaseLayout",
    // "Try it out" with the console's session cookie: the gateway asks requests that change
    // something to say they come from the console (this page is served by the same origin).
    requestInterceptor: function (request) {
      request.headers["X-Requested-With"] = "aos-console";
      return request;
    },
  });
});
