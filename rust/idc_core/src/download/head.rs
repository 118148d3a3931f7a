//! What a HEAD request says of an object before it is fetched or skipped: its length and the
//! checksums the server states.

use reqwest::header::CONTENT_LENGTH;

use super::failure::Failure;
use super::http::{header_u64, CHECKSUM_MODE};
use super::job::Job;
use super::state::Ctx;
use super::verify::Expected;

/// What a HEAD (asking for the stated checksums) says of the object: its length and checksums.
pub(crate) async fn head(ctx: &Ctx, job: &Job) -> Result<Expected, Failure> {
    let url = job.id.url(&ctx.http.endpoint);
    let got = ctx
        .cfg
        .retry
        .run(&ctx.cancel, || async {
            let req = ctx.http.client.head(&url);
            let resp = ctx
                .http
                .send(req.header(CHECKSUM_MODE.0, CHECKSUM_MODE.1))
                .await?;
            let len = header_u64(resp.headers(), CONTENT_LENGTH);
            job.expected(resp.headers(), len, ctx.cfg.checksums)
        })
        .await;
    got.outcome
}
