//! `/openapi.json`: the service's own HTTP interface, generated from the handlers' annotations
//! (utoipa) so the document cannot drift from the code. No UI assets are bundled.

use super::admin;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

#[derive(OpenApi)]
#[openapi(
    info(title = "zoom-sso-revoker", description = "Verified identity-provider deprovisioning webhooks in, Zoom SSO tokens revoked out."),
    paths(
        super::receive, super::handshake, super::healthz, super::readyz, super::metrics, super::openapi_json,
        admin::list_jobs, admin::show_job, admin::retry_job, admin::retry_dead, admin::revoke, admin::audit,
    ),
    components(schemas(super::ErrorBody, crate::store::IngestCounts)),
    modifiers(&BearerAuth, &UntaggedAsAnyOf),
    tags(
        (name = "webhooks", description = "Signed deprovisioning webhooks from identity providers"),
        (name = "health", description = "Probes and metrics"),
        (name = "admin", description = "Operations; routed only when ADMIN_TOKEN is set"),
    )
)]
pub struct ApiDoc;

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, doc: &mut utoipa::openapi::OpenApi) {
        let components = doc.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
    }
}

/// `Listing` is an untagged enum, which utoipa writes as `oneOf` (exactly one must match). An
/// empty list matches both arms, so every empty answer violated the document (found by
/// Schemathesis); `anyOf` says what the server means.
struct UntaggedAsAnyOf;

impl Modify for UntaggedAsAnyOf {
    fn modify(&self, doc: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::RefOr;
        use utoipa::openapi::schema::{AnyOf, Schema};
        let Some(schemas) = doc.components.as_mut().map(|c| &mut c.schemas) else { return };
        if let Some(slot) = schemas.get_mut("Listing")
            && let RefOr::T(Schema::OneOf(one)) = slot
        {
            let mut any = AnyOf::new();
            any.items = std::mem::take(&mut one.items);
            any.description = one.description.take();
            *slot = RefOr::T(Schema::AnyOf(any));
        }
    }
}

/// The document as served.
pub fn document() -> utoipa::openapi::OpenApi {
    let mut doc = ApiDoc::openapi();
    doc.info.version = env!("CARGO_PKG_VERSION").to_string();
    doc
}
