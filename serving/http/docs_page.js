// Starts Swagger UI on the service's completed OpenAPI document (serving/http/openapi_doc.py).
// A file rather than an inline script, so the page's Content-Security-Policy can allow scripts
// from this service only. Paths are relative, as BentoML's were, so the page works under a prefix.
window.ui = SwaggerUIBundle({
  url: "docs.json",
  dom_id: "#swagger-ui",
  presets: [SwaggerUIBundle.presets.apis],
  layout: "BaseLayout",
  deepLinking: true,
  // Swagger UI would otherwise send the document to validator.swagger.io for a badge.
  validatorUrl: null,
});
