//! `docs/prover-gateway.openapi.yaml` documents what the reference gateway serves.

use kalypso_provers::webhook_api::API_VERSION;

#[test]
fn openapi_document_lists_every_route_and_field() {
    let path = kalypso_test_utils::repo_root().join("docs/prover-gateway.openapi.yaml");
    let doc =
        std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()));
    assert!(
        doc.starts_with("openapi: 3.1"),
        "not an OpenAPI 3.1 document"
    );
    for route in ["health", "benchmark", "prove", "check-input"] {
        assert!(
            doc.contains(&format!("  /{API_VERSION}/{route}:")),
            "route /{API_VERSION}/{route} missing"
        );
    }
    // The JSON field names of `webhook_api`, as serde writes them.
    for field in [
        "proverData",
        "secret",
        "askId",
        "timeoutMs",
        "proof",
        "provingTimeMs",
        "valid",
        "reason",
        "apiVersion",
        "status",
        "prover",
        "runs",
        "timesMs",
        "p50Ms",
        "p90Ms",
        "minMs",
        "maxMs",
        "meanMs",
        "threads",
        "error",
        "message",
        "constraints",
    ] {
        assert!(doc.contains(&format!("{field}:")), "field {field} missing");
    }
    for code in [
        "bad_request",
        "not_found",
        "invalid_input",
        "prover_failed",
        "unsupported",
        "unavailable",
        "timeout",
    ] {
        assert!(doc.contains(code), "error code {code} missing");
    }
    for status in ["'400'", "'422'", "'500'", "'501'", "'503'", "'504'"] {
        assert!(doc.contains(status), "status {status} missing");
    }
}
