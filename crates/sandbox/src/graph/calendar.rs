//! Calendar: events, calendarView (+ delta), instances.

use super::{Ctx, Resp};
use crate::error::{GResult, GraphError};
use crate::people::Directory;
use crate::store::Tenant;

pub(crate) fn route(ctx: &mut Ctx<'_>, _s: &[&str]) -> GResult<Resp> {
    Err(GraphError::no_route(ctx.req.method.as_str(), &ctx.req.path))
}

pub(crate) fn seed_events(_t: &mut Tenant, _dir: &Directory) {}
