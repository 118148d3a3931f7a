//! A query without ORDER BY returns the same rows, in the same order, on every run.
//!
//! A scan reads a file in parallel, one byte range per partition, and DataFusion's
//! `CoalescePartitionsExec` passes on each partition's batches as they arrive: `SELECT * FROM
//! index WHERE Modality = 'CT' LIMIT 10` returned whichever partition's rows came first, a
//! different answer from run to run. Where the partitions below a coalesce are byte ranges of
//! the files (no repartitioning between), [`keep_file_order`] puts [`InOrderExec`] in its
//! place: the partitions still run at once, and their batches are passed on partition by
//! partition, which is the order of the rows in the files.
//!
//! A partition that runs out of work reads part of a sibling's range (DataFusion's work
//! stealing), which would make each partition's rows depend on timing: [`only_reads`] tells
//! the query to turn it off for plans whose order is kept.
//!
//! Below a hash repartition (GROUP BY, joins) the order within each partition already depends
//! on timing, as it does in DuckDB; those plans are left as they are, work stealing included.
//!
//! A partition whose turn has not come buffers its batches: all of them when the result is
//! collected whole anyway, at most [`Ahead::Batches`] when it is streamed, so that a consumer
//! that turns each batch into something else holds a few batches, not half the result.

use std::fmt;
use std::sync::Arc;

use datafusion::arrow::record_batch::RecordBatch;
use datafusion::common::runtime::SpawnedTask;
use datafusion::common::tree_node::{Transformed, TreeNode, TreeNodeRecursion};
use datafusion::common::Result;
use datafusion::execution::{SendableRecordBatchStream, TaskContext};
use datafusion::logical_expr::LogicalPlan;
use datafusion::physical_expr::PhysicalExpr;
use datafusion::physical_plan::coalesce_partitions::CoalescePartitionsExec;
use datafusion::physical_plan::limit::GlobalLimitExec;
use datafusion::physical_plan::repartition::RepartitionExec;
use datafusion::physical_plan::stream::RecordBatchStreamAdapter;
use datafusion::physical_plan::{
    DisplayAs, DisplayFormatType, ExecutionPlan, ExecutionPlanProperties, Partitioning,
    PlanProperties,
};
use futures::{stream, StreamExt};
use tokio::sync::mpsc;

/// Whether `plan` only reads, filters, projects and limits rows: its answer can keep the order
/// of the rows in the files, if each partition reads only its own ranges.
pub fn only_reads(plan: &LogicalPlan) -> bool {
    !plan
        .exists(|node| {
            Ok(matches!(
                node,
                LogicalPlan::Aggregate(_)
                    | LogicalPlan::Join(_)
                    | LogicalPlan::Sort(_)
                    | LogicalPlan::Window(_)
                    | LogicalPlan::Distinct(_)
                    | LogicalPlan::Repartition(_)
            ))
        })
        .unwrap_or(true)
}

/// How many batches a partition whose turn has not come may compute ahead.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ahead {
    /// All of them: the result is collected whole, and the partitions run in parallel to the end.
    All,
    /// At most this many: the result is streamed, and memory stays bounded.
    Batches(usize),
}

/// `plan` with every coalesce of file-ordered partitions passing them on in order, and with
/// its own partitions passed on in order when they are file-ordered (a plan of several
/// partitions is otherwise coalesced as they arrive when it runs).
pub fn keep_file_order(
    plan: Arc<dyn ExecutionPlan>,
    ahead: Ahead,
) -> Result<Arc<dyn ExecutionPlan>> {
    let plan = in_order_coalesces(plan, ahead)?;
    if plan.output_partitioning().partition_count() > 1 && !repartitions(&plan)? {
        return Ok(Arc::new(InOrderExec::new(plan, ahead)));
    }
    Ok(plan)
}

fn in_order_coalesces(
    plan: Arc<dyn ExecutionPlan>,
    ahead: Ahead,
) -> Result<Arc<dyn ExecutionPlan>> {
    plan.transform_up(|node| {
        let Some(coalesce) = node.downcast_ref::<CoalescePartitionsExec>() else {
            return Ok(Transformed::no(node));
        };
        let input = Arc::clone(coalesce.input());
        if input.output_partitioning().partition_count() < 2 || repartitions(&input)? {
            return Ok(Transformed::no(node));
        }
        let in_order: Arc<dyn ExecutionPlan> = Arc::new(InOrderExec::new(input, ahead));
        Ok(Transformed::yes(match coalesce.fetch() {
            Some(fetch) => Arc::new(GlobalLimitExec::new(in_order, 0, Some(fetch))),
            None => in_order,
        }))
    })
    .map(|t| t.data)
}

/// Whether rows are redistributed between partitions anywhere below `plan`.
fn repartitions(plan: &Arc<dyn ExecutionPlan>) -> Result<bool> {
    let mut found = false;
    plan.apply(|node| {
        found |= node.is::<RepartitionExec>() || node.is::<CoalescePartitionsExec>();
        Ok(if found {
            TreeNodeRecursion::Stop
        } else {
            TreeNodeRecursion::Continue
        })
    })?;
    Ok(found)
}

/// Runs every partition of its input at once and passes on their batches partition by
/// partition: all of the first, then all of the second, ...
#[derive(Debug)]
pub struct InOrderExec {
    input: Arc<dyn ExecutionPlan>,
    ahead: Ahead,
    properties: Arc<PlanProperties>,
}

impl InOrderExec {
    fn new(input: Arc<dyn ExecutionPlan>, ahead: Ahead) -> Self {
        let mut equivalences = input.equivalence_properties().clone();
        equivalences.clear_orderings();
        equivalences.clear_per_partition_constants();
        let properties = PlanProperties::new(
            equivalences,
            Partitioning::UnknownPartitioning(1),
            input.pipeline_behavior(),
            input.boundedness(),
        );
        Self {
            input,
            ahead,
            properties: Arc::new(properties),
        }
    }
}

impl DisplayAs for InOrderExec {
    fn fmt_as(&self, _t: DisplayFormatType, f: &mut fmt::Formatter) -> fmt::Result {
        write!(f, "InOrderExec")
    }
}

impl ExecutionPlan for InOrderExec {
    fn name(&self) -> &str {
        "InOrderExec"
    }

    fn properties(&self) -> &Arc<PlanProperties> {
        &self.properties
    }

    fn children(&self) -> Vec<&Arc<dyn ExecutionPlan>> {
        vec![&self.input]
    }

    fn benefits_from_input_partitioning(&self) -> Vec<bool> {
        vec![false]
    }

    fn apply_expressions(
        &self,
        _f: &mut dyn FnMut(&Arc<dyn PhysicalExpr>) -> Result<TreeNodeRecursion>,
    ) -> Result<TreeNodeRecursion> {
        Ok(TreeNodeRecursion::Continue)
    }

    fn with_new_children(
        self: Arc<Self>,
        mut children: Vec<Arc<dyn ExecutionPlan>>,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        Ok(Arc::new(Self::new(children.swap_remove(0), self.ahead)))
    }

    fn execute(
        &self,
        _partition: usize,
        context: Arc<TaskContext>,
    ) -> Result<SendableRecordBatchStream> {
        // Each partition runs in a task of its own and buffers what it produces until its turn
        // (see `Ahead`; a LIMIT is pushed into every partition). Dropping the stream aborts the
        // tasks.
        let capacity = match self.ahead {
            Ahead::All => tokio::sync::Semaphore::MAX_PERMITS,
            Ahead::Batches(n) => n.max(1),
        };
        let mut tasks = Vec::new();
        let mut receivers = Vec::new();
        for partition in 0..self.input.output_partitioning().partition_count() {
            let mut input = self.input.execute(partition, Arc::clone(&context))?;
            let (sender, receiver) = mpsc::channel::<Result<RecordBatch>>(capacity);
            tasks.push(SpawnedTask::spawn(async move {
                while let Some(batch) = input.next().await {
                    let failed = batch.is_err();
                    if sender.send(batch).await.is_err() || failed {
                        break;
                    }
                }
            }));
            receivers.push(receiver);
        }
        let batches = stream::iter(receivers)
            .flat_map(|mut receiver| stream::poll_fn(move |cx| receiver.poll_recv(cx)))
            // The tasks live as long as the stream.
            .map(move |batch| {
                let _ = &tasks;
                batch
            });
        Ok(Box::pin(RecordBatchStreamAdapter::new(
            self.schema(),
            batches,
        )))
    }
}
