//! The figures behind GetIndicators.

use chrono::{DateTime, Utc};
use sqlx::PgConnection;

use super::{DatabaseContext as _, StoreError};

/// The indicators of disputes registered in `[start, end)` whose community
/// starts with `prefix` (all when `None`).
#[derive(Debug, Clone, Default)]
pub struct IndicatorRows {
    pub received: i64,
    /// (level, concluded, agreements)
    pub levels: Vec<(String, i64, i64)>,
    pub agreements_signed: i64,
    pub agreements_performed: i64,
    pub agreements_breached: i64,
    pub mean_hours_to_agreement: Option<f64>,
    pub confirmed: i64,
    pub confirmation_ended: i64,
    /// (`YYYY-MM` in China time, disputes)
    pub monthly: Vec<(String, i64)>,
}

pub async fn indicators(
    connection: &mut PgConnection,
    prefix: Option<&str>,
    start: DateTime<Utc>,
    end: DateTime<Utc>,
) -> Result<IndicatorRows, StoreError> {
    let received: i64 = sqlx::query_scalar(
        "select count(*) from disputes d
          where ($1::text is null or d.community_code like $1 || '%')
            and d.register_time >= $2 and d.register_time < $3",
    )
    .bind(prefix)
    .bind(start)
    .bind(end)
    .fetch_one(&mut *connection)
    .await
    .context("counting disputes")?;
    let levels: Vec<(String, i64, i64)> = sqlx::query_as(
        "select s.level, count(*), count(*) filter (where s.outcome = 'agreement')
           from stages s join disputes d on d.id = s.dispute_id
          where ($1::text is null or d.community_code like $1 || '%')
            and d.register_time >= $2 and d.register_time < $3 and s.outcome is not null
          group by s.level",
    )
    .bind(prefix)
    .bind(start)
    .bind(end)
    .fetch_all(&mut *connection)
    .await
    .context("measuring the levels")?;
    let (signed, performed, breached, confirmed, ended, mean_seconds): (
        i64,
        i64,
        i64,
        i64,
        i64,
        Option<f64>,
    ) = sqlx::query_as(
        "select count(*),
                count(*) filter (where a.state = 'performed'),
                count(*) filter (where a.state = 'breached'),
                count(*) filter (where a.confirmation = 'confirmed'),
                count(*) filter (where a.confirmation is not null),
                (select avg(extract(epoch from first_sign - register_time))::float8
                   from (select d2.register_time, min(a2.sign_time) as first_sign
                           from disputes d2 join agreements a2 on a2.dispute_id = d2.id
                          where ($1::text is null or d2.community_code like $1 || '%')
                            and d2.register_time >= $2 and d2.register_time < $3
                          group by d2.id, d2.register_time) firsts)
           from agreements a join disputes d on d.id = a.dispute_id
          where ($1::text is null or d.community_code like $1 || '%')
            and d.register_time >= $2 and d.register_time < $3",
    )
    .bind(prefix)
    .bind(start)
    .bind(end)
    .fetch_one(&mut *connection)
    .await
    .context("measuring agreements")?;
    let monthly: Vec<(String, i64)> = sqlx::query_as(
        "select to_char(d.register_time at time zone 'Asia/Shanghai', 'YYYY-MM') as month, count(*)
           from disputes d
          where ($1::text is null or d.community_code like $1 || '%')
            and d.register_time >= $2 and d.register_time < $3
          group by month order by month",
    )
    .bind(prefix)
    .bind(start)
    .bind(end)
    .fetch_all(&mut *connection)
    .await
    .context("counting disputes per month")?;
    Ok(IndicatorRows {
        received,
        levels,
        agreements_signed: signed,
        agreements_performed: performed,
        agreements_breached: breached,
        mean_hours_to_agreement: mean_seconds.map(|seconds| seconds / 3600.0),
        confirmed,
        confirmation_ended: ended,
        monthly,
    })
}
