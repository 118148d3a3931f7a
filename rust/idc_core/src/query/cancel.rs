//! A cancelled query stops computing.
//!
//! Dropping a query's stream aborts its tasks, but a tokio task only stops at its next yield,
//! and DataFusion's operators yield only where they read their input ([`CooperativeExec`]
//! around the scans, which `EnsureCooperative` inserts). A join emits all the rows one input
//! batch matches before it reads the next: `SELECT COUNT(*) FROM index a JOIN index b ON
//! a.Modality = b.Modality` matched each batch against a third of a million rows and kept a
//! core busy for tens of seconds after Ctrl-C had returned. Every join's output goes through a
//! [`CooperativeExec`] too, so that the task yields, and stops when aborted, every few batches
//! of output as well as of input.

use std::sync::Arc;

use datafusion::common::tree_node::{Transformed, TreeNode};
use datafusion::common::Result;
use datafusion::physical_plan::coop::CooperativeExec;
use datafusion::physical_plan::ExecutionPlan;

/// `plan` with the output of every join made to yield.
pub fn yield_after_joins(plan: Arc<dyn ExecutionPlan>) -> Result<Arc<dyn ExecutionPlan>> {
    plan.transform_up(|node| {
        if node.name().contains("Join") {
            let wrapped: Arc<dyn ExecutionPlan> = Arc::new(CooperativeExec::new(node));
            Ok(Transformed::yes(wrapped))
        } else {
            Ok(Transformed::no(node))
        }
    })
    .map(|t| t.data)
}
