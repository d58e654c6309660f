//! Calendar functions (`day_of_month`, `hour`, `year`, ...), in UTC, of the
//! argument's values as Unix seconds or, without argument, of the
//! evaluation time.

use promql_parser::parser::Expr;

use super::eval::{EvalError, Evaluator};
use super::functions::map_samples;
use super::labels::Labels;
use super::value::Sample;
use crate::template::civil_from_days;

/// Evaluates `name` if it is a calendar function.
pub(crate) fn call(
    ev: &Evaluator<'_>,
    name: &str,
    args: &[&Expr],
    t: i64,
) -> Result<Option<Vec<Sample>>, EvalError> {
    let f: fn(&Civil) -> f64 = match name {
        "days_in_month" => |c| f64::from(days_in_month(c.year, c.month)),
        "day_of_month" => |c| f64::from(c.day),
        "day_of_week" => |c| f64::from(c.weekday),
        "day_of_year" => |c| f64::from(c.yday),
        "hour" => |c| f64::from(c.hour),
        "minute" => |c| f64::from(c.minute),
        "month" => |c| f64::from(c.month),
        "year" => |c| c.year as f64,
        _ => return Ok(None),
    };
    let v = match args.first() {
        None => vec![Sample {
            labels: Labels::empty(),
            value: f(&Civil::from_unix(t / 1000)),
        }],
        // Go converts with int64(v): truncation toward zero.
        Some(e) => map_samples(ev.eval_vector(e, t)?, |v| f(&Civil::from_unix(v as i64))),
    };
    Ok(Some(v))
}

/// A UTC calendar time.
struct Civil {
    year: i64,
    month: u32,
    day: u32,
    /// 0 = Sunday.
    weekday: u32,
    /// 1-based day of the year.
    yday: u32,
    hour: u32,
    minute: u32,
}

impl Civil {
    fn from_unix(secs: i64) -> Civil {
        let days = secs.div_euclid(86_400);
        let sod = secs.rem_euclid(86_400);
        let (year, month, day) = civil_from_days(days);
        let before: u32 = (1..month).map(|m| days_in_month(year, m)).sum();
        Civil {
            year,
            month,
            day,
            weekday: (days + 4).rem_euclid(7) as u32,
            yday: before + day,
            hour: (sod / 3600) as u32,
            minute: (sod % 3600 / 60) as u32,
        }
    }
}

fn days_in_month(year: i64, month: u32) -> u32 {
    match month {
        2 if (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn civil_dates() {
        let c = Civil::from_unix(0);
        assert_eq!(
            (c.year, c.month, c.day, c.weekday, c.yday),
            (1970, 1, 1, 4, 1)
        );
        // 2024-02-29T13:45:00Z, a Thursday.
        let c = Civil::from_unix(1_709_214_300);
        assert_eq!(
            (c.year, c.month, c.day, c.weekday, c.yday),
            (2024, 2, 29, 4, 60)
        );
        assert_eq!((c.hour, c.minute), (13, 45));
        let c = Civil::from_unix(-1);
        assert_eq!((c.year, c.month, c.day, c.hour), (1969, 12, 31, 23));
    }
}
