#![cfg(feature = "query")]
//! The engine on a small parquet index written by the test: registration, the DuckDB-style
//! dialect, read-only refusals, regexp_extract, and the optimised rewrite.

use std::fs::File;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use datafusion::arrow::array::{Array, AsArray, Float64Array, Int64Array, StringArray};
use datafusion::arrow::datatypes::{DataType, Field, Schema};
use datafusion::arrow::record_batch::RecordBatch;
use idc_core::query::{Engine, Layout, OptimizeOutcome, UserData};
use idc_core::CoreError;
use parquet::arrow::ArrowWriter;
use parquet::file::properties::WriterProperties;

const SERIES: usize = 5000;

fn write_index(path: &Path) {
    write_index_copies(path, 1);
}

/// The index of `SERIES` rows, written `copies` times into one file.
fn write_index_copies(path: &Path, copies: usize) {
    write_index_with(path, copies, None);
}

/// The index of `SERIES` rows, written `copies` times into one file with `props` (row group
/// sizes, bloom filters).
fn write_index_with(path: &Path, copies: usize, props: Option<WriterProperties>) {
    let schema = Arc::new(Schema::new(vec![
        Field::new("collection_id", DataType::Utf8, true),
        Field::new("PatientID", DataType::Utf8, true),
        Field::new("StudyInstanceUID", DataType::Utf8, true),
        Field::new("SeriesInstanceUID", DataType::Utf8, true),
        Field::new("Modality", DataType::Utf8, true),
        Field::new("series_aws_url", DataType::Utf8, true),
        Field::new("instanceCount", DataType::Int64, true),
        Field::new("series_size_MB", DataType::Float64, true),
    ]));
    // Rows in reverse order, so that the sorted rewrite has something to do.
    let rows: Vec<usize> = (0..SERIES).rev().collect();
    let col = |f: &dyn Fn(usize) -> String| -> Arc<dyn Array> {
        Arc::new(StringArray::from(
            rows.iter().map(|&i| f(i)).collect::<Vec<_>>(),
        ))
    };
    let batch = RecordBatch::try_new(
        schema.clone(),
        vec![
            col(&|i| format!("collection_{}", i % 3)),
            col(&|i| format!("P-{:04}", i / 10)),
            col(&|i| format!("1.2.840.{}", i / 5)),
            col(&|i| format!("1.2.840.{}.{}", i / 5, i % 5)),
            col(&|i| ["CT", "MR", "SEG", "SM"][i % 4].to_string()),
            col(&|i| format!("s3://idc-open-data/uuid-{i}/*")),
            Arc::new(Int64Array::from(
                rows.iter().map(|&i| (i % 100) as i64).collect::<Vec<_>>(),
            )),
            Arc::new(Float64Array::from(
                rows.iter().map(|&i| i as f64 / 10.0).collect::<Vec<_>>(),
            )),
        ],
    )
    .unwrap();
    let mut writer = ArrowWriter::try_new(File::create(path).unwrap(), schema, props).unwrap();
    for _ in 0..copies {
        writer.write(&batch).unwrap();
    }
    writer.close().unwrap();
}

fn engine_with_index() -> (tempfile::TempDir, Engine) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("idc_index.parquet");
    write_index(&path);
    let engine = Engine::new();
    let rt = idc_core::runtime::get();
    rt.block_on(engine.register_parquet("index", &path, &["idc_index".to_string()]))
        .unwrap();
    (dir, engine)
}

fn strings(engine: &Engine, sql: &str) -> Vec<String> {
    column_strings(engine, sql, 0)
}

/// The values of column `column` of the answer to `sql`, as text.
fn column_strings(engine: &Engine, sql: &str, column: usize) -> Vec<String> {
    let out = idc_core::runtime::get().block_on(engine.sql(sql)).unwrap();
    let mut values = Vec::new();
    for b in &out.batches {
        let col = datafusion::arrow::compute::cast(b.column(column), &DataType::Utf8).unwrap();
        values.extend(
            col.as_string::<i32>()
                .iter()
                .map(|v| v.unwrap_or("NULL").to_string()),
        );
    }
    values
}

#[test]
fn both_table_names_and_any_identifier_case_work() {
    let (_dir, engine) = engine_with_index();
    assert_eq!(engine.table_names(), vec!["idc_index", "index"]);
    let a = strings(&engine, "SELECT COUNT(*) FROM index WHERE modality = 'SM'");
    let b = strings(
        &engine,
        "select count(*) from IDC_INDEX where MODALITY = 'SM'",
    );
    assert_eq!(a, vec![(SERIES / 4).to_string()]);
    assert_eq!(a, b);
    let out =
        idc_core::runtime::get()
            .block_on(engine.sql(
                "SELECT seriesinstanceuid, COUNT(*) AS SeriesCount FROM index GROUP BY 1 LIMIT 1",
            ))
            .unwrap();
    let names: Vec<_> = out
        .schema
        .fields()
        .iter()
        .map(|f| f.name().clone())
        .collect();
    assert_eq!(names, vec!["SeriesInstanceUID", "SeriesCount"]);
}

#[test]
fn duckdb_functions_work() {
    let (_dir, engine) = engine_with_index();
    let buckets = strings(
        &engine,
        "SELECT DISTINCT regexp_extract(series_aws_url, 's3://([^/]+)/', 1) FROM index",
    );
    assert_eq!(buckets, vec!["idc-open-data"]);
    let none = strings(&engine, "SELECT regexp_extract('abc', 'x(y)', 1)");
    assert_eq!(none, vec![""]);
    let agg = strings(
        &engine,
        "SELECT STRING_AGG(DISTINCT modality ORDER BY modality) FROM index WHERE collection_id = 'collection_0'",
    );
    assert_eq!(agg, vec!["CT,MR,SEG,SM"]);
    let any = strings(
        &engine,
        "SELECT ANY_VALUE(collection_id) FROM index WHERE PatientID = 'P-0003'",
    );
    assert_eq!(any.len(), 1);
}

#[test]
fn len_counts_characters_and_list_elements() {
    let (_dir, engine) = engine_with_index();
    let sql = "SELECT len(Modality), len(string_split(series_aws_url, '/')), len(NULL) \
               FROM index WHERE SeriesInstanceUID = '1.2.840.17.3'";
    let out = idc_core::runtime::get().block_on(engine.sql(sql)).unwrap();
    let row: Vec<String> = out.batches[0]
        .columns()
        .iter()
        .map(|c| {
            let c = datafusion::arrow::compute::cast(c, &DataType::Utf8).unwrap();
            c.as_string::<i32>().value(0).to_string()
        })
        .collect();
    assert_eq!(row[..2], ["2", "5"]);
    let err = idc_core::runtime::get()
        .block_on(engine.sql("SELECT len(instanceCount) FROM index"))
        .unwrap_err();
    assert!(
        err.to_string().contains("len takes a string or a list"),
        "{err}"
    );
}

#[test]
fn integers_divide_as_floating_point_as_in_duckdb() {
    let (_dir, engine) = engine_with_index();
    assert_eq!(strings(&engine, "SELECT 7 / 2"), vec!["3.5"]);
    let out = idc_core::runtime::get()
        .block_on(engine.sql("SELECT Modality, COUNT(*) / 2 AS half FROM index GROUP BY 1"))
        .unwrap();
    // the result says what its columns hold
    assert_eq!(out.schema.field(1).data_type(), &DataType::Float64);
    assert_eq!(out.batches[0].schema(), out.schema);
    assert_eq!(
        strings(
            &engine,
            "SELECT COUNT(*) / COUNT(DISTINCT PatientID) FROM index WHERE collection_id = 'collection_0'"
        ),
        // 1,667 series of collection_0 (every third) from all 500 patients
        vec!["3.334"]
    );
    assert_eq!(strings(&engine, "SELECT 7.0 / 2"), vec!["3.5"]);
    // LIMIT takes an integer still
    assert_eq!(
        strings(&engine, "SELECT Modality FROM index LIMIT 4 / 2").len(),
        2
    );
}

#[test]
fn duckdb_date_parts_work() {
    let (_dir, engine) = engine_with_index();
    let out = idc_core::runtime::get()
        .block_on(engine.sql(
            "SELECT year(DATE '2021-03-04') AS y, month(DATE '2021-03-04') AS m, \
             dayofweek(CAST('2021-03-04' AS DATE)) AS w, year(CAST(NULL AS DATE)) AS n",
        ))
        .unwrap();
    let b = &out.batches[0];
    let ints: Vec<Option<i64>> = (0..4)
        .map(|c| {
            let col = b.column(c).as_any().downcast_ref::<Int64Array>().unwrap();
            col.is_valid(0).then(|| col.value(0))
        })
        .collect();
    assert_eq!(ints, vec![Some(2021), Some(3), Some(4), None]);
}

#[test]
fn bad_regexp_group_is_a_clear_error() {
    let (_dir, engine) = engine_with_index();
    let err = idc_core::runtime::get()
        .block_on(engine.sql("SELECT regexp_extract(Modality, 'C(T)', 2) FROM index"))
        .unwrap_err();
    assert!(err.to_string().contains("group 2 does not exist"), "{err}");
}

#[test]
fn statements_that_write_or_read_files_are_refused() {
    let (dir, engine) = engine_with_index();
    let target = dir.path().join("out.parquet");
    let rt = idc_core::runtime::get();
    for sql in [
        format!("COPY (SELECT * FROM index) TO '{}'", target.display()),
        "CREATE EXTERNAL TABLE t STORED AS CSV LOCATION '/etc/passwd'".to_string(),
        "CREATE TABLE t AS SELECT 1".to_string(),
        "INSERT INTO index VALUES (1)".to_string(),
        "DROP TABLE index".to_string(),
        "SET datafusion.execution.batch_size = 1".to_string(),
        "SELECT 1; SELECT 2".to_string(),
    ] {
        let err = rt.block_on(engine.sql(&sql)).unwrap_err();
        assert!(matches!(err, CoreError::ReadOnly(_)), "{sql}: {err:?}");
    }
    let err = rt
        .block_on(engine.sql("SELECT * FROM '/etc/passwd'"))
        .unwrap_err();
    assert!(
        err.to_string()
            .contains("Tables you can query: idc_index, index"),
        "{err}"
    );
    assert!(!target.exists());
    assert!(engine.table_names().len() == 2);
}

#[test]
fn a_streamed_query_gives_the_collected_rows_in_their_order() {
    // Row groups of 500 rows, read by as many partitions as the machine has cores: a partition
    // whose turn has not come waits after a few batches instead of computing its whole range.
    let dir = tempfile::tempdir().unwrap();
    let grouped = dir.path().join("grouped.parquet");
    let props = WriterProperties::builder()
        .set_max_row_group_row_count(Some(500))
        .build();
    write_index_with(&grouped, 1, Some(props));
    let engine = Engine::new();
    let rt = idc_core::runtime::get();
    rt.block_on(engine.register_parquet("index", &grouped, &[]))
        .unwrap();
    let sql = "SELECT SeriesInstanceUID FROM index WHERE Modality <> 'SM'";
    let collected = strings(&engine, sql);
    assert_eq!(collected.len(), SERIES / 4 * 3);
    let streamed = rt.block_on(async {
        let mut stream = engine
            .sql_stream(sql, &idc_core::query::Params::None)
            .await
            .unwrap();
        let mut values = Vec::new();
        while let Some(batch) = stream.next().await.unwrap() {
            // A slow consumer: the partitions after the first are held back meanwhile.
            tokio::time::sleep(Duration::from_millis(2)).await;
            let col = datafusion::arrow::compute::cast(batch.column(0), &DataType::Utf8).unwrap();
            values.extend(
                col.as_string::<i32>()
                    .iter()
                    .map(|v| v.unwrap().to_string()),
            );
        }
        values
    });
    assert_eq!(streamed, collected);
    // in the file's order: the rows were written in reverse
    assert_eq!(collected[0], "1.2.840.999.3");
}

#[test]
fn a_join_on_a_looked_up_key_reads_only_the_row_groups_of_its_key() {
    // The index written 64 times over (larger than what the engine holds in memory, so that it
    // is scanned from the file), in row groups of 500 rows with bloom filters on
    // SeriesInstanceUID; the instances a table of their own. The key the lookup finds reaches
    // the index's scan as an IN list, which the bloom filters prune every row group without
    // the key with.
    const COPIES: usize = 64;
    let dir = tempfile::tempdir().unwrap();
    let index = dir.path().join("index.parquet");
    let props = WriterProperties::builder()
        .set_max_row_group_row_count(Some(500))
        .set_column_bloom_filter_enabled("SeriesInstanceUID".into(), true)
        .build();
    write_index_with(&index, COPIES, Some(props));
    assert!(std::fs::metadata(&index).unwrap().len() > 16 << 20);
    let schema = Arc::new(Schema::new(vec![
        Field::new("SOPInstanceUID", DataType::Utf8, false),
        Field::new("SeriesInstanceUID", DataType::Utf8, false),
    ]));
    let sops: Vec<String> = (0..SERIES).map(|i| format!("sop.{i}")).collect();
    let series: Vec<String> = (0..SERIES)
        .map(|i| format!("1.2.840.{}.{}", i / 5, i % 5))
        .collect();
    let instances = RecordBatch::try_new(
        schema.clone(),
        vec![
            Arc::new(StringArray::from(sops)),
            Arc::new(StringArray::from(series)),
        ],
    )
    .unwrap();
    let inst = dir.path().join("instances.parquet");
    let mut writer = ArrowWriter::try_new(File::create(&inst).unwrap(), schema, None).unwrap();
    writer.write(&instances).unwrap();
    writer.close().unwrap();
    let engine = Engine::new();
    let rt = idc_core::runtime::get();
    rt.block_on(engine.register_parquet("index", &index, &[]))
        .unwrap();
    rt.block_on(engine.register_parquet("instances", &inst, &[]))
        .unwrap();
    let sql = "SELECT s.PatientID FROM instances i JOIN index s \
               ON i.SeriesInstanceUID = s.SeriesInstanceUID WHERE i.SOPInstanceUID = 'sop.1234'";
    assert_eq!(strings(&engine, sql), vec!["P-0123"; COPIES]);
    let plan = column_strings(&engine, &format!("EXPLAIN ANALYZE {sql}"), 1).join("\n");
    let scan = plan
        .lines()
        .find(|l| l.contains("index.parquet") && l.contains("row_groups_pruned_bloom_filter"))
        .unwrap_or_else(|| panic!("no scan of the index in {plan}"));
    assert!(scan.contains("IN (SET)"), "{scan}");
    let pruned = scan
        .split("row_groups_pruned_bloom_filter=")
        .nth(1)
        .unwrap();
    assert!(
        pruned.contains(&format!("→ {COPIES} matched")),
        "expected the {COPIES} row groups that hold the key: {pruned}"
    );
}

#[test]
fn optimised_rewrite_keeps_every_row_and_swaps_in() {
    let (dir, engine) = engine_with_index();
    let rt = idc_core::runtime::get();
    let before = strings(&engine, "SELECT SUM(series_size_MB) FROM index");
    let dst = dir.path().join("optimized").join("idc_index.parquet");
    let layout = Layout {
        sort_by: vec![
            "collection_id".into(),
            "PatientID".into(),
            "StudyInstanceUID".into(),
            "SeriesInstanceUID".into(),
        ],
        bloom_filter_columns: vec!["SeriesInstanceUID".into(), "StudyInstanceUID".into()],
        row_group_rows: 1024,
        page_rows: 256,
        compression: "lz4_raw".into(),
        metadata: vec![("idc_index.layout".into(), "test".into())],
    };
    engine
        .start_optimize("index", dst.clone(), layout, Duration::ZERO)
        .unwrap();
    let outcome = rt.block_on(engine.wait_optimized("index")).unwrap();
    assert_eq!(outcome, OptimizeOutcome::Swapped(dst.clone()));
    assert_eq!(
        engine.table_path("idc_index").unwrap(),
        dst.to_str().unwrap()
    );
    assert_eq!(
        strings(&engine, "SELECT SUM(series_size_MB) FROM index"),
        before
    );
    assert_eq!(
        strings(
            &engine,
            "SELECT COUNT(*) FROM index WHERE SeriesInstanceUID = '1.2.840.17.3'"
        ),
        vec!["1"]
    );
    // sorted along the hierarchy, in row groups of the requested size
    let reader =
        parquet::file::reader::SerializedFileReader::new(File::open(&dst).unwrap()).unwrap();
    use parquet::file::reader::FileReader;
    let meta = reader.metadata();
    assert_eq!(meta.num_row_groups(), SERIES.div_ceil(1024));
    assert_eq!(
        meta.row_group(0).column(0).compression(),
        parquet::basic::Compression::LZ4_RAW
    );
    // the sort is not declared in the file: the planner would keep it through every
    // aggregation
    assert!(meta.row_group(0).sorting_columns().is_none());
    assert!(meta.row_group(0).column(3).bloom_filter_offset().is_some());
    assert_eq!(
        meta.file_metadata().key_value_metadata().unwrap()[0].key,
        "idc_index.layout"
    );
    let first = strings(&engine, "SELECT collection_id FROM index LIMIT 1");
    assert_eq!(first, vec!["collection_0"]);
    assert!(!std::fs::read_dir(dst.parent().unwrap()).unwrap().any(|e| e
        .unwrap()
        .file_name()
        .to_string_lossy()
        .ends_with(".partial")));
    assert_eq!(
        rt.block_on(engine.wait_optimized("index")).unwrap(),
        OptimizeOutcome::NotStarted
    );
}

#[test]
fn a_file_replaced_by_a_rename_is_read_anew() {
    // Files are read through memory maps: a new file moved over a registered one must be
    // mapped again, not served from the old mapping.
    let (dir, engine) = engine_with_index();
    let path = dir.path().join("idc_index.parquet");
    let lookup = "SELECT COUNT(*) FROM index WHERE SeriesInstanceUID = '1.2.840.17.3'";
    assert_eq!(strings(&engine, lookup), vec!["1"]);
    let bigger = dir.path().join("bigger.parquet");
    write_index_copies(&bigger, 2);
    // small: held in memory after its first use, and loaded again after the rename
    let held = engine.memory_held();
    assert_eq!(held.keys().collect::<Vec<_>>(), vec!["idc_index"]);
    std::fs::rename(&bigger, &path).unwrap();
    assert_eq!(strings(&engine, lookup), vec!["2"]);
    assert_eq!(
        strings(&engine, "SELECT COUNT(*) FROM index"),
        vec![(2 * SERIES).to_string()]
    );
    assert!(engine.memory_held()["idc_index"] > held["idc_index"]);
}

#[test]
fn missing_and_corrupt_files_are_named() {
    let dir = tempfile::tempdir().unwrap();
    let engine = Engine::new();
    let rt = idc_core::runtime::get();
    let missing = dir.path().join("nope.parquet");
    let err = rt
        .block_on(engine.register_parquet("t", &missing, &[]))
        .unwrap_err();
    assert!(err.to_string().contains("does not exist"), "{err}");
    let corrupt = dir.path().join("corrupt.parquet");
    std::fs::write(&corrupt, b"not parquet at all").unwrap();
    let err = rt
        .block_on(engine.register_parquet("t", &corrupt, &[]))
        .unwrap_err();
    assert!(
        err.to_string().contains("is not a readable parquet file"),
        "{err}"
    );
}

fn small_layout() -> Layout {
    Layout {
        sort_by: vec!["SeriesInstanceUID".into()],
        bloom_filter_columns: vec![],
        row_group_rows: 1024,
        page_rows: 256,
        compression: "zstd(3)".into(),
        metadata: vec![],
    }
}

#[test]
fn a_live_writer_is_left_alone_and_a_dead_ones_leftovers_are_taken_over() {
    let (dir, engine) = engine_with_index();
    let rt = idc_core::runtime::get();
    let out = dir.path().join("optimized");
    std::fs::create_dir_all(&out).unwrap();
    let dst = out.join("idc_index.parquet");
    let lock = out.join(".idc_index.parquet.lock");

    // this very process holds the lock: another writer is at work
    std::fs::write(&lock, std::process::id().to_string()).unwrap();
    engine
        .start_optimize("index", dst.clone(), small_layout(), Duration::ZERO)
        .unwrap();
    assert_eq!(
        rt.block_on(engine.wait_optimized("index")).unwrap(),
        OptimizeOutcome::Busy
    );
    assert!(!dst.exists());

    // a writer that died (no such process) left its lock and a partial file
    std::fs::write(&lock, "4000000000").unwrap();
    let partial = out.join(".idc_index.parquet.4000000000.partial");
    std::fs::write(&partial, b"half a file").unwrap();
    engine
        .start_optimize("index", dst.clone(), small_layout(), Duration::ZERO)
        .unwrap();
    assert_eq!(
        rt.block_on(engine.wait_optimized("index")).unwrap(),
        OptimizeOutcome::Swapped(dst.clone())
    );
    assert!(dst.is_file() && !lock.exists() && !partial.exists());
}

#[test]
fn user_tables_join_the_indices_and_index_names_are_refused() {
    let (dir, engine) = engine_with_index();
    let rt = idc_core::runtime::get();
    // rows the caller holds
    let schema = Arc::new(Schema::new(vec![
        Field::new("SeriesInstanceUID", DataType::Utf8, false),
        Field::new("Label", DataType::Utf8, false),
    ]));
    let batch = RecordBatch::try_new(
        schema.clone(),
        vec![
            Arc::new(StringArray::from(vec!["1.2.840.17.3", "1.2.840.18.0"])),
            Arc::new(StringArray::from(vec!["nodule", "normal"])),
        ],
    )
    .unwrap();
    rt.block_on(engine.register_user_table("MyLabels", UserData::Batches(schema, vec![batch])))
        .unwrap();
    let joined = "SELECT label FROM index JOIN mylabels USING (SeriesInstanceUID) ORDER BY 1";
    assert_eq!(strings(&engine, joined), vec!["nodule", "normal"]);
    assert_eq!(engine.user_table_names(), vec!["MyLabels"]);
    assert_eq!(engine.table_names(), vec!["idc_index", "index"]);

    // a CSV file and a parquet file, read once when registered
    let csv = dir.path().join("labels.csv");
    std::fs::write(
        &csv,
        "SeriesInstanceUID,score\n1.2.840.17.3,0.5\n1.2.840.18.0,2\n",
    )
    .unwrap();
    rt.block_on(engine.register_user_table("scores", UserData::Csv(csv.clone())))
        .unwrap();
    std::fs::write(&csv, "SeriesInstanceUID,score\n").unwrap();
    assert_eq!(
        strings(
            &engine,
            "SELECT SUM(score) FROM scores JOIN index USING (SeriesInstanceUID)"
        ),
        vec!["2.5"]
    );
    let parquet = dir.path().join("copy.parquet");
    write_index(&parquet);
    rt.block_on(engine.register_user_table("copy", UserData::Parquet(parquet)))
        .unwrap();
    assert_eq!(
        strings(&engine, "SELECT COUNT(*) FROM copy"),
        vec![SERIES.to_string()]
    );

    // refusals
    for name in ["index", "IDC_INDEX"] {
        let err = rt
            .block_on(engine.register_user_table(name, UserData::Csv(csv.clone())))
            .unwrap_err();
        assert!(
            err.to_string().contains("is the name of the index"),
            "{err}"
        );
    }
    let err = engine.unregister_user_table("index").unwrap_err();
    assert!(err.to_string().contains("only tables registered"), "{err}");
    let missing = dir.path().join("missing.csv");
    let err = rt
        .block_on(engine.register_user_table("m", UserData::Csv(missing)))
        .unwrap_err();
    assert!(err.to_string().contains("is not a file"), "{err}");
    let not_parquet = dir.path().join("labels.csv");
    let err = rt
        .block_on(engine.register_user_table("m", UserData::Parquet(not_parquet)))
        .unwrap_err();
    assert!(
        err.to_string()
            .contains("could not be read as a parquet file"),
        "{err}"
    );
    assert!(!engine.user_table_names().contains(&"m".to_string()));
    let err = rt
        .block_on(engine.sql("CREATE TABLE t2 AS SELECT * FROM mylabels"))
        .unwrap_err();
    assert!(matches!(err, CoreError::ReadOnly(_)), "{err}");

    // removal
    engine.unregister_user_table("MyLabels").unwrap();
    let err = rt.block_on(engine.sql(joined)).unwrap_err();
    assert!(err.to_string().contains("Tables you can query"), "{err}");
    let err = engine.unregister_user_table("MyLabels").unwrap_err();
    assert!(
        err.to_string().contains("registered: copy, scores"),
        "{err}"
    );
}

#[test]
fn counts_beside_a_distinct_count_are_split_into_two_aggregations() {
    let (_dir, engine) = engine_with_index();
    let rt = idc_core::runtime::get();
    let sql = "SELECT collection_id, COUNT(DISTINCT PatientID) AS patients, COUNT(*) AS series, \
               COUNT(Modality) AS with_modality, SUM(instanceCount) AS instances \
               FROM index GROUP BY collection_id ORDER BY collection_id";
    let by_hand = "SELECT collection_id, COUNT(PatientID) AS patients, SUM(n) AS series, \
                   SUM(m) AS with_modality, SUM(i) AS instances FROM ( \
                   SELECT collection_id, PatientID, COUNT(*) AS n, COUNT(Modality) AS m, \
                   SUM(instanceCount) AS i FROM index GROUP BY collection_id, PatientID) \
                   GROUP BY collection_id ORDER BY collection_id";
    let rows = |sql: &str| {
        let out = rt.block_on(engine.sql(sql)).unwrap();
        let names: Vec<String> = out
            .schema
            .fields()
            .iter()
            .map(|f| f.name().clone())
            .collect();
        let cells: Vec<String> = (0..names.len())
            .flat_map(|c| {
                out.batches.iter().flat_map(move |b| {
                    let col =
                        datafusion::arrow::compute::cast(b.column(c), &DataType::Utf8).unwrap();
                    (0..col.len())
                        .map(|r| col.as_string::<i32>().value(r).to_string())
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        (names, cells)
    };
    let (names, cells) = rows(sql);
    assert_eq!(
        names,
        vec![
            "collection_id",
            "patients",
            "series",
            "with_modality",
            "instances"
        ]
    );
    assert_eq!(cells, rows(by_hand).1);
    assert!(cells.contains(&(SERIES / 3).to_string()), "{cells:?}");
    let plan = rows(&format!("EXPLAIN {sql}")).1.join("\n");
    assert!(plan.contains("AggregateExec"), "{plan}");
    assert!(!plan.contains("count(DISTINCT"), "{plan}");
}

#[test]
fn a_distinct_count_of_a_unique_column_is_a_count() {
    let (_dir, engine) = engine_with_index();
    let sql = "SELECT collection_id, COUNT(DISTINCT SeriesInstanceUID) AS series, \
               COUNT(DISTINCT PatientID) AS patients FROM index GROUP BY 1 ORDER BY 1";
    let before = strings(&engine, sql);
    let explain = |engine: &Engine| {
        let out = idc_core::runtime::get()
            .block_on(engine.sql(&format!("EXPLAIN {sql}")))
            .unwrap();
        let plans = out.batches[0]
            .column(1)
            .as_string::<i32>()
            .value(0)
            .to_string();
        plans
    };
    assert!(explain(&engine).contains("count(DISTINCT index.SeriesInstanceUID)"));
    engine
        .declare_key("index", &["SeriesInstanceUID".to_string()])
        .unwrap();
    assert!(!explain(&engine).contains("count(DISTINCT index.SeriesInstanceUID)"));
    assert_eq!(strings(&engine, sql), before);
    let out = idc_core::runtime::get().block_on(engine.sql(sql)).unwrap();
    let names: Vec<&str> = out
        .schema
        .fields()
        .iter()
        .map(|f| f.name().as_str())
        .collect();
    assert_eq!(names, ["collection_id", "series", "patients"]);

    // not through an unnest, which repeats the rows of a series
    assert_eq!(
        strings(
            &engine,
            "SELECT COUNT(DISTINCT SeriesInstanceUID) FROM \
             (SELECT SeriesInstanceUID, unnest([1, 2]) AS copy FROM index)"
        ),
        vec![SERIES.to_string()]
    );
    // a distinct count that becomes a count already there is computed once, named twice
    assert_eq!(
        strings(
            &engine,
            "SELECT COUNT(DISTINCT SeriesInstanceUID) AS d, COUNT(SeriesInstanceUID) AS n, \
             COUNT(*) FROM index"
        ),
        vec![SERIES.to_string()]
    );

    let err = engine
        .declare_key("index", &["nope".to_string()])
        .unwrap_err();
    assert!(err.to_string().contains("has no column nope"), "{err}");
    let err = engine
        .declare_key("index", &["PatientID".to_string()])
        .unwrap_err();
    assert!(err.to_string().contains("declared before"), "{err}");
}

#[test]
fn columns_that_a_key_determines_are_not_grouped_by() {
    let (dir, engine) = engine_with_index();
    let rt = idc_core::runtime::get();
    let schema = Arc::new(Schema::new(vec![
        Field::new("collection_id", DataType::Utf8, true),
        Field::new("collection_name", DataType::Utf8, true),
    ]));
    let ids = ["collection_0", "collection_1", "collection_2"];
    let batch = RecordBatch::try_new(
        schema.clone(),
        vec![
            Arc::new(StringArray::from(ids.to_vec())),
            Arc::new(StringArray::from(
                ids.iter().map(|i| format!("The {i}")).collect::<Vec<_>>(),
            )),
        ],
    )
    .unwrap();
    let path = dir.path().join("collections_index.parquet");
    let mut w = ArrowWriter::try_new(File::create(&path).unwrap(), schema, None).unwrap();
    w.write(&batch).unwrap();
    w.close().unwrap();
    rt.block_on(engine.register_parquet("collections_index", &path, &[]))
        .unwrap();
    let sql =
        "SELECT c.collection_name, c.collection_id, COUNT(*) AS series, MAX(i.Modality) AS m \
               FROM index i JOIN collections_index c ON i.collection_id = c.collection_id \
               GROUP BY c.collection_id, c.collection_name ORDER BY 1";
    let explain = || {
        let out = rt.block_on(engine.sql(&format!("EXPLAIN {sql}"))).unwrap();
        out.batches[0]
            .column(1)
            .as_string::<i32>()
            .value(0)
            .to_string()
    };
    let before = strings(&engine, sql);
    assert!(!explain().contains("first_value"));
    engine
        .declare_key("collections_index", &["collection_id".to_string()])
        .unwrap();
    assert!(
        explain().contains("first_value(c.collection_name)"),
        "{}",
        explain()
    );
    assert_eq!(strings(&engine, sql), before);
    assert_eq!(
        before,
        vec!["The collection_0", "The collection_1", "The collection_2"]
    );
    let out = rt.block_on(engine.sql(sql)).unwrap();
    let names: Vec<&str> = out
        .schema
        .fields()
        .iter()
        .map(|f| f.name().as_str())
        .collect();
    assert_eq!(names, ["collection_name", "collection_id", "series", "m"]);
}

#[cfg(target_os = "linux")]
#[test]
fn a_cancelled_query_stops_computing() {
    let (_dir, engine) = engine_with_index();
    let engine = Arc::new(engine);
    let rt = idc_core::runtime::get();
    let idle = rt.metrics().num_alive_tasks();
    // Each row of a matches a quarter of b's rows, and each of those a quarter of c's: billions
    // of rows, hours of work.
    let query = {
        let engine = Arc::clone(&engine);
        rt.spawn(async move {
            engine
                .sql(
                    "SELECT COUNT(*) FROM index a JOIN index b ON a.Modality = b.Modality \
                      JOIN index c ON b.Modality = c.Modality",
                )
                .await
        })
    };
    // Cancel once the query has computed for a CPU-second (it is past its reads, in the join),
    // as Ctrl-C aborts the call.
    let started = cpu_seconds();
    wait_until(|| cpu_seconds() > started + 1.0);
    query.abort();
    // What stopped: every task of the query ends; none keeps computing.
    wait_until(|| rt.metrics().num_alive_tasks() <= idle);
    assert!(rt.block_on(query).unwrap_err().is_cancelled());
    // The engine answers the next query.
    assert_eq!(
        strings(&engine, "SELECT COUNT(*) FROM index"),
        [SERIES.to_string()]
    );
}

/// The CPU time of this process so far (user and system), from `/proc/self/stat`.
#[cfg(target_os = "linux")]
fn cpu_seconds() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap();
    // The fields after the command name (in parentheses): utime and stime are the 12th and 13th.
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .unwrap()
        .1
        .split_whitespace()
        .collect();
    let ticks: f64 = fields[11].parse::<f64>().unwrap() + fields[12].parse::<f64>().unwrap();
    // SAFETY: sysconf only reads a configuration value.
    ticks / unsafe { libc::sysconf(libc::_SC_CLK_TCK) } as f64
}

/// Poll `done` until it holds (at most 60 s: a guard against a hang, not a measurement).
fn wait_until(done: impl Fn() -> bool) {
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    while !done() {
        assert!(
            std::time::Instant::now() < deadline,
            "the awaited state never came"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
}

#[test]
fn a_lookup_in_one_large_row_group_is_spread_over_the_partitions_in_file_order() {
    // One row group of 300,000 rows, larger than what the engine holds in memory (so that it
    // is scanned from the file): as idc-index-data ships the main index.
    const ROWS: usize = 300_000;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("one.parquet");
    write_one_row_group(&path, ROWS);
    let metadata = parquet::file::reader::SerializedFileReader::new(File::open(&path).unwrap())
        .map(|r| parquet::file::reader::FileReader::metadata(&r).num_row_groups())
        .unwrap();
    assert_eq!(metadata, 1);
    assert!(std::fs::metadata(&path).unwrap().len() > 16 << 20);
    let engine = Engine::new();
    let rt = idc_core::runtime::get();
    rt.block_on(engine.register_parquet("index", &path, &[]))
        .unwrap();

    // Rows of both halves, asked for in the reverse of their order in the file.
    let wanted = [299_999usize, 150_001, 150_000, 149_999, 3, 0];
    let uids: Vec<String> = wanted.iter().map(|i| format!("'1.2.{i:080}'")).collect();
    let lookup = format!(
        "SELECT n FROM index WHERE SeriesInstanceUID IN ({})",
        uids.join(", ")
    );
    let numbers: Vec<String> = wanted.iter().map(|i| i.to_string()).collect();
    // The same rows by a column that is not an identifier: a plain scan, not spread.
    let scan = format!("SELECT n FROM index WHERE n IN ({})", numbers.join(", "));
    let mut in_file_order = numbers.clone();
    in_file_order.reverse();
    assert_eq!(strings(&engine, &lookup), in_file_order);
    assert_eq!(strings(&engine, &scan), in_file_order);
    let one = format!("SELECT n FROM index WHERE SeriesInstanceUID = {}", uids[1]);
    assert_eq!(strings(&engine, &one), vec!["150001"]);
    let first = format!("{lookup} LIMIT 1");
    assert_eq!(strings(&engine, &first), vec!["0"]);

    // Each partition reads the whole file, its own rows: no byte ranges in the scan.
    let plan = column_strings(&engine, &format!("EXPLAIN ANALYZE {lookup}"), 1).join("\n");
    let groups = plan
        .lines()
        .find(|l| l.contains("one.parquet"))
        .unwrap_or_else(|| panic!("no scan in {plan}"));
    if std::thread::available_parallelism().map_or(1, |n| n.get()) > 1 {
        assert!(!groups.contains("one.parquet:"), "{groups}");
        assert!(groups.matches("one.parquet").count() > 1, "{groups}");
    }
    let plain = column_strings(&engine, &format!("EXPLAIN ANALYZE {scan}"), 1).join("\n");
    assert!(plain.contains("one.parquet:0.."), "{plain}");

    // Replaced by a file of fewer rows: read as it is, not by the runs of the file before.
    let next = dir.path().join("next.parquet");
    write_one_row_group(&next, ROWS - 1000);
    std::fs::rename(&next, &path).unwrap();
    assert_eq!(strings(&engine, &one), vec!["150001"]);
    assert_eq!(strings(&engine, &lookup), in_file_order[..5].to_vec());
}

/// A parquet file of one row group: `rows` SeriesInstanceUIDs of 84 characters, and their
/// row numbers `n`.
fn write_one_row_group(path: &Path, rows: usize) {
    let schema = Arc::new(Schema::new(vec![
        Field::new("SeriesInstanceUID", DataType::Utf8, false),
        Field::new("n", DataType::Int64, false),
    ]));
    let batch = RecordBatch::try_new(
        schema.clone(),
        vec![
            Arc::new(StringArray::from(
                (0..rows)
                    .map(|i| format!("1.2.{i:080}"))
                    .collect::<Vec<_>>(),
            )),
            Arc::new(Int64Array::from((0..rows as i64).collect::<Vec<_>>())),
        ],
    )
    .unwrap();
    let mut writer = ArrowWriter::try_new(File::create(path).unwrap(), schema, None).unwrap();
    writer.write(&batch).unwrap();
    writer.close().unwrap();
}
