// The API's OpenAPI document in Swagger UI, from the package's own copy (no CDN; the CSP
// forbids inline scripts, so the set-up lives here).
window.SwaggerUIBundle({ url: "/openapi.json", dom_id: "#swagger-ui" });
