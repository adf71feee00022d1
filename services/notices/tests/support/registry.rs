//! A small block registry answering the two RPCs the notices service calls
//! — `BlockRegistry.ListBlocks` (paged) and `GetBlock` — over a real
//! socket, from blocks the test sets. Like the real registry it requires a
//! token, here the notices service's own (`service` role); while `down` it
//! answers UNAVAILABLE.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use flatgov_auth::{Role, Verifier};
use flatgov_proto::blocks::v1 as blocks;
use flatgov_testkit::contract::{Contract, RunningContract};
use tonic::{Request, Status};

/// The blocks the registry knows: (15-digit code, households).
#[derive(Debug, Default)]
pub struct Registry {
    pub blocks: Mutex<Vec<(String, u32)>>,
    /// Answers UNAVAILABLE while set.
    pub down: AtomicBool,
    /// Calls answered.
    pub calls: AtomicUsize,
}

impl Registry {
    pub fn with_blocks(blocks: &[(&str, u32)]) -> Arc<Self> {
        let registry = Self::default();
        *registry.blocks.lock().unwrap() = blocks
            .iter()
            .map(|(code, households)| ((*code).to_owned(), *households))
            .collect();
        Arc::new(registry)
    }

    fn check<T>(&self, verifier: &Verifier, request: &Request<T>) -> Result<(), Status> {
        if self.down.load(Ordering::SeqCst) {
            return Err(Status::unavailable("the registry is down"));
        }
        let header = request
            .metadata()
            .get("authorization")
            .and_then(|value| value.to_str().ok());
        match verifier.verify_header(header) {
            Ok(caller) if caller.has_role(Role::Service) && caller.subject == "notices" => {
                self.calls.fetch_add(1, Ordering::SeqCst);
                Ok(())
            }
            _ => Err(Status::unauthenticated(
                "the notices service's own token is required",
            )),
        }
    }

    fn block(code: &str, households: u32) -> blocks::Block {
        blocks::Block {
            name: format!("blocks/{code}"),
            code: code.to_owned(),
            community_code: code[..12].to_owned(),
            subdistrict_code: code[..9].to_owned(),
            households,
            ..Default::default()
        }
    }

    fn list_blocks(
        &self,
        request: blocks::ListBlocksRequest,
    ) -> Result<blocks::ListBlocksResponse, Status> {
        let prefix = request
            .parent
            .split_once('/')
            .map(|(_, code)| code.to_owned())
            .unwrap_or_default();
        let mut all: Vec<(String, u32)> = self
            .blocks
            .lock()
            .unwrap()
            .iter()
            .filter(|(code, _)| code.starts_with(&prefix))
            .cloned()
            .collect();
        all.sort();
        let offset: usize = request.page_token.parse().unwrap_or(0);
        let size = usize::try_from(request.page_size.clamp(1, 500)).unwrap();
        let page: Vec<blocks::Block> = all
            .iter()
            .skip(offset)
            .take(size)
            .map(|(code, households)| Self::block(code, *households))
            .collect();
        let next = offset + page.len();
        Ok(blocks::ListBlocksResponse {
            blocks: page,
            next_page_token: if next < all.len() {
                next.to_string()
            } else {
                String::new()
            },
            total_size: u32::try_from(all.len()).unwrap(),
        })
    }

    fn get_block(&self, request: blocks::GetBlockRequest) -> Result<blocks::Block, Status> {
        let code = request.name.trim_start_matches("blocks/");
        self.blocks
            .lock()
            .unwrap()
            .iter()
            .find(|(known, _)| known == code)
            .map(|(code, households)| Self::block(code, *households))
            .ok_or_else(|| Status::not_found(request.name.clone()))
    }
}

/// Serves the registry on `port` until dropped.
pub async fn serve(port: u16, registry: Arc<Registry>, verifier: Verifier) -> RunningContract {
    let (list, get) = ((registry.clone(), verifier.clone()), (registry, verifier));
    Contract::new("flatgov.blocks.v1.BlockRegistry")
        .unary(
            "ListBlocks",
            move |call: Request<blocks::ListBlocksRequest>| {
                list.0.check(&list.1, &call)?;
                list.0.list_blocks(call.into_inner())
            },
        )
        .unary("GetBlock", move |call: Request<blocks::GetBlockRequest>| {
            get.0.check(&get.1, &call)?;
            get.0.get_block(call.into_inner())
        })
        .serve(port)
        .await
}
