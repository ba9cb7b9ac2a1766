from drf_spectacular.extensions import OpenApiAuthenticationExtension


class StorefrontKeyScheme(OpenApiAuthenticationExtension):
    target_class = "loyalty.api.auth.StorefrontKeyAuthentication"
    name = "StorefrontApiKey"

    def get_security_definition(self, auto_schema):
        return {
            "type": "apiKey",
            "in": "header",
            "name": "Authorization",
            "description": "`Api-Key <key>`; create keys in the admin or with `manage.py create_api_key NAME`.",
        }
