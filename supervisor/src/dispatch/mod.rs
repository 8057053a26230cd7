//! How sessions get here: `POST /execute` and, with a control plane, jobs this runtime claims (DESIGN.md
//! §9). Both go through `submit`, so a claimed job is validated, admitted and started exactly like a
//! request.
//!
//! - `submit`: validation, the drain check, admission and launch: the one way a session starts.
//! - `claim`: one `POST /api/internal/v1/claim` through the control plane's shipper transport, and the
//!   jobs of its answer read one by one (a job that does not parse is still attributed to its session).
//! - `pull`: the loop that claims while slots are free and the runtime is not draining, and runs each job.

mod claim;
pub(crate) mod pull;
pub(crate) mod submit;
