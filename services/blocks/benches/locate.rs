//! Point → block lookup: the in-memory `BlockIndex` against PostGIS on the same polygons.
//!
//! Run with `scripts/bench-blocks` (installs PostGIS when missing) or
//! `cargo bench -p flatgov-blocks --bench locate`. Results are recorded in
//! `docs/benchmarks/blocks.md`. This measures and prints; it fails only when the
//! two implementations disagree on a point or infrastructure is unusable.
//!
//! Environment:
//! - `FLATGOV_BENCH_SIZES` — comma-separated block counts (default `326,10000,1000000`).
//! - `FLATGOV_BENCH_LOOKUPS` — timed in-process lookups per size (default 200000).
//! - `FLATGOV_BENCH_POSTGIS_SAMPLE` — points sent to PostGIS per size (default 20000).
//! - `FLATGOV_BENCH_POSTGIS=0` — skip PostGIS.
//! - `FLATGOV_BENCH_DATABASE_URL` — server to create the scratch database on
//!   (default `postgres://postgres@127.0.0.1:5432/postgres`).
//!
//! Method: every lookup is timed on its own with `Instant::now()` before and
//! `elapsed()` after, around `black_box`ed inputs and output, after one untimed
//! warm-up pass over the same points. The clock read (~20–40 ns, measured and
//! printed) is included, not subtracted, so figures err on the slow side. PostGIS
//! is timed the same way around one prepared-statement round trip per point over
//! TCP to 127.0.0.1, on one connection.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::hint::black_box;
use std::time::Instant;

use anyhow::{Context, bail};
use flatgov_blocks::domain::index::BlockIndex;
use flatgov_blocks::domain::synthetic::{
    Bounds, DEMO_SEED, SplitMix64, demo_district, demo_generation, single_subdistrict_generation,
    tiling,
};
use flatgov_blocks::domain::validation::{ValidationSettings, validate_generation};
use flatgov_vocabulary::BlockCode;
use geo::MultiPolygon;
// The scratch database name is built from our own process id, never from input.
use sqlx::{AssertSqlSafe, Connection, Executor, PgConnection};

const SEED: u64 = 20_260_101;

/// A block as the index and PostGIS both receive it.
type IndexedBlock = (BlockCode, MultiPolygon<f64>);

/// Lookup latency summary, in nanoseconds.
struct Percentiles {
    p50: f64,
    p90: f64,
    p99: f64,
    p999: f64,
    max: f64,
    mean: f64,
}

fn percentiles(mut samples: Vec<u64>) -> Percentiles {
    samples.sort_unstable();
    let at = |fraction: f64| {
        let position = ((samples.len() as f64 - 1.0) * fraction).round() as usize;
        samples[position] as f64
    };
    let mean = samples.iter().map(|&sample| sample as f64).sum::<f64>() / samples.len() as f64;
    Percentiles {
        p50: at(0.50),
        p90: at(0.90),
        p99: at(0.99),
        p999: at(0.999),
        max: at(1.0),
        mean,
    }
}

fn env_or<T: std::str::FromStr>(name: &str, default: T) -> anyhow::Result<T> {
    match std::env::var(name) {
        Ok(text) => text
            .trim()
            .parse()
            .map_err(|_| anyhow::anyhow!("{name}={text:?} is not valid")),
        Err(_) => Ok(default),
    }
}

/// The points a size is probed with: 98 % uniform inside the tiling, 1 % exactly on
/// block vertices (shared by up to four blocks: the tie rule), 1 % just outside.
fn probe_points(
    seed: u64,
    bounds: Bounds,
    blocks: &[(BlockCode, MultiPolygon<f64>)],
    count: usize,
) -> Vec<(f64, f64)> {
    let mut random = SplitMix64::new(seed);
    let (width, height) = (bounds.east - bounds.west, bounds.north - bounds.south);
    (0..count)
        .map(|_| {
            let kind = random.below(100);
            if kind == 0 {
                let (_, geometry) = &blocks[random.below(blocks.len() as u64) as usize];
                let ring = &geometry.0[0].exterior().0;
                let vertex = ring[random.below(ring.len() as u64) as usize];
                (vertex.x, vertex.y)
            } else if kind == 1 {
                // A band 1–5 % of the size outside the east or north edge.
                let offset = random.range_f64(0.01, 0.05);
                if random.below(2) == 0 {
                    (
                        bounds.east + offset * width,
                        random.range_f64(bounds.south, bounds.north),
                    )
                } else {
                    (
                        random.range_f64(bounds.west, bounds.east),
                        bounds.north + offset * height,
                    )
                }
            } else {
                (
                    random.range_f64(bounds.west, bounds.east),
                    random.range_f64(bounds.south, bounds.north),
                )
            }
        })
        .collect()
}

fn timer_overhead_ns() -> f64 {
    let rounds = 1_000_000;
    let mut samples = Vec::with_capacity(rounds);
    for _ in 0..rounds {
        let start = Instant::now();
        samples.push(black_box(start.elapsed()).as_nanos() as u64);
    }
    percentiles(samples).p50
}

fn rss_mib() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|line| line.starts_with("VmRSS:"))?;
    let kib: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib / 1024.0)
}

fn machine_description() -> String {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|text| {
            text.lines()
                .find(|line| line.starts_with("model name"))
                .map(|line| line.split(':').nth(1).unwrap_or("").trim().to_owned())
        })
        .unwrap_or_else(|| "unknown cpu".to_owned());
    let cores = std::thread::available_parallelism()
        .map(|cores| cores.get())
        .unwrap_or(0);
    let load = std::fs::read_to_string("/proc/loadavg")
        .map(|text| {
            text.split_whitespace()
                .take(3)
                .collect::<Vec<_>>()
                .join(" ")
        })
        .unwrap_or_default();
    format!("{cores} cores, {cpu}; load average at start {load}")
}

struct InProcess {
    blocks: usize,
    tiling_ms: f64,
    build_ms: f64,
    rss_mib: Option<f64>,
    lookups: usize,
    latency: Percentiles,
    batch_ns_per_point: f64,
    answers: Vec<Option<BlockCode>>,
    points: Vec<(f64, f64)>,
}

fn run_in_process(size: usize, lookups: usize) -> anyhow::Result<(InProcess, Vec<IndexedBlock>)> {
    let bounds = Bounds::around_xiangtan(size);
    let started = Instant::now();
    let made = tiling(SEED, size, bounds).context("synthetic tiling")?;
    let tiling_ms = started.elapsed().as_secs_f64() * 1e3;
    let started = Instant::now();
    let index = BlockIndex::build(made.blocks.clone()).context("index build")?;
    let build_ms = started.elapsed().as_secs_f64() * 1e3;
    let rss = rss_mib();
    let points = probe_points(SEED ^ size as u64, bounds, &made.blocks, lookups);

    // Warm-up: one untimed pass (caches, branch predictors, page faults).
    let answers: Vec<Option<BlockCode>> = points
        .iter()
        .map(|&(lon, lat)| index.locate(lon, lat).copied())
        .collect();
    let mut samples = Vec::with_capacity(points.len());
    for &(lon, lat) in &points {
        let start = Instant::now();
        black_box(index.locate(black_box(lon), black_box(lat)));
        samples.push(start.elapsed().as_nanos() as u64);
    }
    let started = Instant::now();
    black_box(index.locate_many(black_box(&points)));
    let batch_ns_per_point = started.elapsed().as_nanos() as f64 / points.len() as f64;
    let found = answers.iter().filter(|answer| answer.is_some()).count();
    println!(
        "  in-process: {size} blocks, {} lookups ({found} found), tiling {tiling_ms:.0} ms, index build {build_ms:.1} ms",
        points.len()
    );
    let result = InProcess {
        blocks: made.blocks.len(),
        tiling_ms,
        build_ms,
        rss_mib: rss,
        lookups: points.len(),
        latency: percentiles(samples),
        batch_ns_per_point,
        answers,
        points,
    };
    Ok((result, made.blocks))
}

struct PostGis {
    sample: usize,
    load_s: f64,
    gist_s: f64,
    intersects: Percentiles,
    contains: Percentiles,
    contains_differs_on_boundary: usize,
    /// A prepared `SELECT $1::float8` per point: the protocol round trip without any spatial work.
    round_trip: Percentiles,
}

fn multipolygon_ewkt(geometry: &MultiPolygon<f64>, text: &mut String) {
    text.push_str("SRID=4326;MULTIPOLYGON(");
    for (polygon_index, polygon) in geometry.0.iter().enumerate() {
        if polygon_index > 0 {
            text.push(',');
        }
        text.push('(');
        for (ring_index, ring) in std::iter::once(polygon.exterior())
            .chain(polygon.interiors())
            .enumerate()
        {
            if ring_index > 0 {
                text.push(',');
            }
            text.push('(');
            for (coord_index, coord) in ring.0.iter().enumerate() {
                if coord_index > 0 {
                    text.push(',');
                }
                // `{}` prints the shortest decimal that parses back to the same f64.
                let _ = write!(text, "{} {}", coord.x, coord.y);
            }
            text.push(')');
        }
        text.push(')');
    }
    text.push(')');
}

fn block_code_number(code: &BlockCode) -> anyhow::Result<i64> {
    code.to_string()
        .parse::<i64>()
        .context("block code as bigint")
}

async fn run_postgis(
    connection: &mut PgConnection,
    blocks: &[(BlockCode, MultiPolygon<f64>)],
    in_process: &InProcess,
    sample_size: usize,
) -> anyhow::Result<PostGis> {
    connection
        .execute("DROP TABLE IF EXISTS bench_blocks")
        .await?;
    connection.execute("CREATE TABLE bench_blocks (code bigint PRIMARY KEY, geom geometry(MultiPolygon, 4326) NOT NULL)").await?;
    let started = Instant::now();
    let mut copy = connection
        .copy_in_raw("COPY bench_blocks (code, geom) FROM STDIN")
        .await?;
    let mut chunk = String::with_capacity(1 << 20);
    for (code, geometry) in blocks {
        let _ = write!(chunk, "{}\t", block_code_number(code)?);
        multipolygon_ewkt(geometry, &mut chunk);
        chunk.push('\n');
        if chunk.len() > (1 << 20) - 4096 {
            copy.send(chunk.as_bytes()).await?;
            chunk.clear();
        }
    }
    if !chunk.is_empty() {
        copy.send(chunk.as_bytes()).await?;
    }
    copy.finish().await?;
    let load_s = started.elapsed().as_secs_f64();
    let started = Instant::now();
    connection
        .execute("CREATE INDEX bench_blocks_geom ON bench_blocks USING GIST (geom)")
        .await?;
    connection.execute("ANALYZE bench_blocks").await?;
    let gist_s = started.elapsed().as_secs_f64();
    println!(
        "  postgis: loaded {} polygons in {load_s:.1} s, GiST index + ANALYZE in {gist_s:.1} s",
        blocks.len()
    );

    let codes_by_number: HashMap<i64, BlockCode> = blocks
        .iter()
        .map(|(code, _)| Ok((block_code_number(code)?, *code)))
        .collect::<anyhow::Result<_>>()?;
    let sample = sample_size.min(in_process.points.len());
    // Same tie rule as BlockIndex: closed polygons (ST_Intersects counts the boundary), lowest code.
    let intersects_sql = "SELECT code FROM bench_blocks WHERE ST_Intersects(geom, ST_SetSRID(ST_MakePoint($1, $2), 4326)) ORDER BY code LIMIT 1";
    let contains_sql = "SELECT code FROM bench_blocks WHERE ST_Contains(geom, ST_SetSRID(ST_MakePoint($1, $2), 4326)) ORDER BY code LIMIT 1";
    let query = |sql: &'static str, lon: f64, lat: f64| {
        sqlx::query_scalar::<_, i64>(sql).bind(lon).bind(lat)
    };

    // Warm-up both statements (prepare, plan, first pages).
    for &(lon, lat) in in_process.points.iter().take(200) {
        query(intersects_sql, lon, lat)
            .fetch_optional(&mut *connection)
            .await?;
        query(contains_sql, lon, lat)
            .fetch_optional(&mut *connection)
            .await?;
    }

    let mut intersects_samples = Vec::with_capacity(sample);
    let mut disagreements = Vec::new();
    for (position, &(lon, lat)) in in_process.points.iter().take(sample).enumerate() {
        let start = Instant::now();
        let answer = query(intersects_sql, lon, lat)
            .fetch_optional(&mut *connection)
            .await?;
        intersects_samples.push(start.elapsed().as_nanos() as u64);
        let postgis_code = answer.and_then(|number| codes_by_number.get(&number).copied());
        if postgis_code != in_process.answers[position] {
            disagreements.push(format!(
                "({lon}, {lat}): index says {:?}, postgis says {:?}",
                in_process.answers[position].map(|code| code.to_string()),
                postgis_code.map(|code| code.to_string())
            ));
        }
    }
    if !disagreements.is_empty() {
        bail!(
            "{} of {sample} points disagree, e.g. {}",
            disagreements.len(),
            disagreements
                .iter()
                .take(5)
                .cloned()
                .collect::<Vec<_>>()
                .join("; ")
        );
    }
    println!("  postgis: all {sample} ST_Intersects answers agree with the index");

    let mut contains_samples = Vec::with_capacity(sample);
    let mut contains_differs_on_boundary = 0;
    for (position, &(lon, lat)) in in_process.points.iter().take(sample).enumerate() {
        let start = Instant::now();
        let answer = query(contains_sql, lon, lat)
            .fetch_optional(&mut *connection)
            .await?;
        contains_samples.push(start.elapsed().as_nanos() as u64);
        let postgis_code = answer.and_then(|number| codes_by_number.get(&number).copied());
        if postgis_code != in_process.answers[position] {
            contains_differs_on_boundary += 1;
        }
    }
    let mut round_trip_samples = Vec::with_capacity(sample);
    for &(lon, _) in in_process.points.iter().take(sample) {
        let start = Instant::now();
        black_box(
            sqlx::query_scalar::<_, f64>("SELECT $1::float8")
                .bind(lon)
                .fetch_one(&mut *connection)
                .await?,
        );
        round_trip_samples.push(start.elapsed().as_nanos() as u64);
    }
    connection.execute("DROP TABLE bench_blocks").await?;
    Ok(PostGis {
        round_trip: percentiles(round_trip_samples),
        sample,
        load_s,
        gist_s,
        intersects: percentiles(intersects_samples),
        contains: percentiles(contains_samples),
        contains_differs_on_boundary,
    })
}

/// Creates the scratch database, runs `work` against it, and drops it whatever happened.
async fn with_scratch_database<T>(
    server_url: &str,
    work: impl AsyncFnOnce(&mut PgConnection) -> anyhow::Result<T>,
) -> anyhow::Result<T> {
    let database = format!("flatgov_bench_blocks_{}", std::process::id());
    let mut admin = PgConnection::connect(server_url)
        .await
        .with_context(|| format!("connecting to {server_url}"))?;
    admin
        .execute(sqlx::raw_sql(AssertSqlSafe(format!(
            "CREATE DATABASE {database}"
        ))))
        .await
        .context("creating the scratch database")?;
    let scratch_url = match server_url.rsplit_once('/') {
        Some((server, _)) => format!("{server}/{database}"),
        None => bail!("database url {server_url:?} has no database part"),
    };
    let outcome = async {
        let mut connection = PgConnection::connect(&scratch_url).await.context("connecting to the scratch database")?;
        connection
            .execute("CREATE EXTENSION IF NOT EXISTS postgis")
            .await
            .context("CREATE EXTENSION postgis (install postgresql-15-postgis-3: scripts/bench-blocks does)")?;
        let result = work(&mut connection).await;
        let _ = connection.close().await;
        result
    }
    .await;
    admin
        .execute(sqlx::raw_sql(AssertSqlSafe(format!(
            "DROP DATABASE IF EXISTS {database} WITH (FORCE)"
        ))))
        .await
        .context("dropping the scratch database")?;
    println!("dropped scratch database {database}");
    outcome
}

fn micros(nanoseconds: f64) -> String {
    format!("{:.2}", nanoseconds / 1e3)
}

fn measure_validation() -> anyhow::Result<Vec<String>> {
    let mut lines = Vec::new();
    let demo = demo_district(DEMO_SEED).context("demo district")?;
    let (boundaries, drafts) = demo_generation(&demo).context("demo names")?;
    let started = Instant::now();
    let report = validate_generation(
        &boundaries,
        &drafts,
        &HashMap::new(),
        &ValidationSettings::default(),
    );
    lines.push(format!(
        "| demo district (8 subdistricts, {} blocks) | {:.0} ms | {} errors, {} warnings |",
        demo.blocks.len(),
        started.elapsed().as_secs_f64() * 1e3,
        report.error_count(),
        report.warning_count()
    ));
    let size = 10_000;
    let made = tiling(SEED, size, Bounds::around_xiangtan(size)).context("tiling")?;
    let Some((boundary, drafts)) = single_subdistrict_generation(&made) else {
        bail!("10,000 blocks fit one subdistrict");
    };
    let started = Instant::now();
    let report = validate_generation(
        &[boundary],
        &drafts,
        &HashMap::new(),
        &ValidationSettings::default(),
    );
    lines.push(format!(
        "| tiling, 1 subdistrict, {size} blocks | {:.0} ms | {} errors, {} warnings |",
        started.elapsed().as_secs_f64() * 1e3,
        report.error_count(),
        report.warning_count()
    ));
    Ok(lines)
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> anyhow::Result<()> {
    let sizes: Vec<usize> = env_or("FLATGOV_BENCH_SIZES", "326,10000,1000000".to_owned())?
        .split(',')
        .map(|size| {
            size.trim()
                .parse::<usize>()
                .with_context(|| format!("size {size:?}"))
        })
        .collect::<anyhow::Result<_>>()?;
    let lookups: usize = env_or("FLATGOV_BENCH_LOOKUPS", 200_000)?;
    let postgis_sample: usize = env_or("FLATGOV_BENCH_POSTGIS_SAMPLE", 20_000)?;
    let with_postgis = env_or("FLATGOV_BENCH_POSTGIS", "1".to_owned())? != "0";
    let server_url = env_or(
        "FLATGOV_BENCH_DATABASE_URL",
        "postgres://postgres@127.0.0.1:5432/postgres".to_owned(),
    )?;

    println!("flatgov-blocks locate benchmark");
    println!("machine: {}", machine_description());
    let overhead = timer_overhead_ns();
    println!(
        "clock read (Instant::now + elapsed) p50: {overhead:.0} ns, included in every figure below"
    );

    println!("validation:");
    let validation_lines = measure_validation()?;
    for line in &validation_lines {
        println!("  {line}");
    }

    let mut rows = Vec::new();
    for &size in &sizes {
        println!("size {size}:");
        let (in_process, blocks) = run_in_process(size, lookups)?;
        let postgis = if with_postgis {
            Some(
                with_scratch_database(&server_url, async |connection| {
                    run_postgis(connection, &blocks, &in_process, postgis_sample).await
                })
                .await?,
            )
        } else {
            None
        };
        drop(blocks);
        rows.push((in_process, postgis));
    }

    println!();
    println!("## In-process BlockIndex (release build, one lookup per timing)");
    println!();
    println!(
        "| blocks | tiling generation | index build | RSS after build | lookups | p50 µs | p90 µs | p99 µs | p99.9 µs | max µs | mean µs | batch µs/point |"
    );
    println!("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
    for (in_process, _) in &rows {
        let latency = &in_process.latency;
        println!(
            "| {} | {:.0} ms | {:.1} ms | {} | {} | {} | {} | {} | {} | {} | {} | {:.2} |",
            in_process.blocks,
            in_process.tiling_ms,
            in_process.build_ms,
            in_process
                .rss_mib
                .map(|mib| format!("{mib:.0} MiB"))
                .unwrap_or_else(|| "n/a".into()),
            in_process.lookups,
            micros(latency.p50),
            micros(latency.p90),
            micros(latency.p99),
            micros(latency.p999),
            micros(latency.max),
            micros(latency.mean),
            in_process.batch_ns_per_point / 1e3,
        );
    }
    if with_postgis {
        println!();
        println!(
            "## PostGIS on the same polygons and points (one prepared query per point, TCP 127.0.0.1)"
        );
        println!();
        println!(
            "| blocks | points (all agree) | COPY load | GiST + ANALYZE | ST_Intersects p50 µs | p99 µs | ST_Contains p50 µs | p99 µs | ST_Contains ≠ rule | `SELECT $1` p50 µs | index p50 µs | PostGIS/index at p50 |"
        );
        println!("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
        for (in_process, postgis) in &rows {
            let Some(postgis) = postgis else { continue };
            println!(
                "| {} | {} | {:.1} s | {:.1} s | {} | {} | {} | {} | {} | {} | {} | {:.0}× |",
                in_process.blocks,
                postgis.sample,
                postgis.load_s,
                postgis.gist_s,
                micros(postgis.intersects.p50),
                micros(postgis.intersects.p99),
                micros(postgis.contains.p50),
                micros(postgis.contains.p99),
                postgis.contains_differs_on_boundary,
                micros(postgis.round_trip.p50),
                micros(in_process.latency.p50),
                postgis.intersects.p50 / in_process.latency.p50,
            );
        }
    }
    println!();
    println!("## Validation");
    println!();
    println!("| generation | validate_generation | result |");
    println!("|---|---:|---|");
    for line in &validation_lines {
        println!("{line}");
    }
    println!();
    println!(
        "rerun: scripts/bench-blocks   (or: cargo bench -p flatgov-blocks --bench locate; FLATGOV_BENCH_POSTGIS=0 to skip PostGIS)"
    );
    Ok(())
}
