//! The sessions section (DESIGN §11): the list (`list`), the session page with its facts and transcript
//! (`page`), the live transcript (`live`), the JSONL download and the raw event (`download`), cancel
//! (`cancel`). `transcript` is the pure event → view function, `shown` how values are cut for a page.
//!
//! Every read is one indexed query of `store::session_pages` (or the API's own `Store::session`/`events`),
//! so the pages answer in the same time over 100,000 sessions or events as over ten.

mod cancel;
mod download;
mod list;
mod live;
mod page;
mod shown;
mod transcript;

pub(crate) use cancel::cancel;
pub(crate) use download::{download, event};
pub(crate) use list::list;
pub(crate) use live::live;
pub(crate) use page::{earlier, head, show};
