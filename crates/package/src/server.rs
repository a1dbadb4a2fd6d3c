//! Serving packages by hash over HTTP (`kalypso circuit serve`): `GET /packages` lists them,
//! `GET /packages/<sha256>/<file>` serves `circuit.toml` and the files its `[files]` table names — nothing
//! else in the directory. A package's URL for market metadata is `http://<host>/packages/<sha256>/`.
//!
//! Every package is checked ([`Package::verify_files`]) when the server starts; a file changed afterwards
//! is still served, and every client refuses it by its hash.

use std::{collections::BTreeMap, future::Future, path::PathBuf, sync::Arc};

use axum::{
    Json, Router,
    extract::{Path, State},
    http::{StatusCode, header},
    response::{IntoResponse, Response},
    routing::get,
};
use serde::Serialize;

use crate::{MANIFEST, Package, Result};

/// One served package.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Served {
    /// Its name.
    pub name: String,
    /// sha256 of its `circuit.toml`.
    pub sha256: String,
    /// Its URL path (`/packages/<sha256>/`).
    pub path: String,
}

struct Packages {
    by_hash: BTreeMap<String, Package>,
    served: Vec<Served>,
}

/// Checks every package and builds the routes serving them.
pub fn router(packages: Vec<Package>) -> Result<(Router, Vec<Served>)> {
    let mut by_hash = BTreeMap::new();
    for package in packages {
        package.verify_files()?;
        by_hash.insert(package.sha256_hex(), package);
    }
    let served: Vec<Served> = by_hash
        .iter()
        .map(|(hash, p)| Served {
            name: p.manifest().name.clone(),
            sha256: hash.clone(),
            path: format!("/packages/{hash}/"),
        })
        .collect();
    let router = Router::new()
        .route("/packages", get(list))
        .route("/packages/{hash}/{*file}", get(file))
        .with_state(Arc::new(Packages {
            by_hash,
            served: served.clone(),
        }));
    Ok((router, served))
}

/// Serves `packages` on `listener` until `shutdown` completes.
pub async fn serve(
    listener: tokio::net::TcpListener,
    router: Router,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(listener, router)
        .with_graceful_shutdown(shutdown)
        .await
}

async fn list(State(packages): State<Arc<Packages>>) -> Json<Vec<Served>> {
    Json(packages.served.clone())
}

async fn file(
    State(packages): State<Arc<Packages>>,
    Path((hash, file)): Path<(String, String)>,
) -> Response {
    let Some(package) = packages.by_hash.get(&hash.to_ascii_lowercase()) else {
        return (StatusCode::NOT_FOUND, format!("no package {hash}\n")).into_response();
    };
    // Only the manifest and the files it lists: never an arbitrary path of the directory.
    let listed = file == MANIFEST || package.manifest().files.contains_key(&file);
    if !listed {
        return (
            StatusCode::NOT_FOUND,
            format!("{file} is not a file of package {hash}\n"),
        )
            .into_response();
    }
    let path: PathBuf = package.path(&file);
    match tokio::fs::read(&path).await {
        Ok(bytes) => ([(header::CONTENT_TYPE, "application/octet-stream")], bytes).into_response(),
        Err(e) => {
            tracing::warn!(target: "kalypso::package", path = %path.display(), error = %e, "cannot read a package file");
            (
                StatusCode::INTERNAL_SERVER_ERROR,
                format!("cannot read {file}\n"),
            )
                .into_response()
        }
    }
}
