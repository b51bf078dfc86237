//! A Rust Worker that answers a constant: the floor under keyedge's cold start.
use worker::{event, Context, Env, Request, Response, Result};

#[event(fetch)]
async fn fetch(_req: Request, _env: Env, _ctx: Context) -> Result<Response> {
    Response::ok("floor")
}
