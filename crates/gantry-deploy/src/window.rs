//! Deployment windows: the weekdays and wall-clock hours, in a named time zone, during which an
//! environment accepts deployments ("mon-fri 09:00-17:00 Europe/Amsterdam").
//!
//! A window is read on the local clock of its time zone, so it follows daylight saving time:
//! `09:00` is nine in the morning in both summer and winter. An hour range may cross midnight
//! (`22:00-02:00`); the part after midnight belongs to the day the range starts on, so with
//! `days: fri` the window is open from Friday 22:00 to Saturday 02:00. `24:00` may end a range;
//! `00:00-24:00` is the whole day.
//!
//! Resolving a time zone's name needs the time zone database, which is I/O, so this module never
//! does it: [`Window`] keeps the name as written and its methods take the resolved
//! [`TimeZone`]. The edge resolves the names (`jiff::tz::TimeZone::get`) and reports unknown ones
//! through `config::Environments::check_time_zones`.

use std::fmt;

use gantry_syntax::Spanned;
use jiff::Timestamp;
use jiff::civil::{Date, Weekday};
use jiff::tz::TimeZone;

/// Minutes in a day: the largest end of an hour range (`24:00`).
const DAY_MINUTES: u16 = 24 * 60;

/// How far [`Window::next_open`] looks ahead. Every window opens at least once a week; a day
/// more covers a local day that a time zone change skipped.
const HORIZON_DAYS: i64 = 9;

/// A set of weekdays.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Days(u8);

/// The days in order, with the short name used in configuration.
const WEEK: [(Weekday, &str); 7] = [
    (Weekday::Monday, "mon"),
    (Weekday::Tuesday, "tue"),
    (Weekday::Wednesday, "wed"),
    (Weekday::Thursday, "thu"),
    (Weekday::Friday, "fri"),
    (Weekday::Saturday, "sat"),
    (Weekday::Sunday, "sun"),
];

impl Days {
    /// Every day of the week.
    pub const DAILY: Days = Days(0x7f);

    /// Reads `daily`, `weekdays`, `weekends`, a day (`mon`, `monday`), a range (`mon-fri`; it
    /// may wrap, `fri-mon` is Friday to Monday) or a comma-separated list of those
    /// (`mon,wed-fri`). Case does not matter.
    pub fn parse(text: &str) -> Result<Days, String> {
        let lower = text.trim().to_ascii_lowercase();
        match lower.as_str() {
            "" => return Err("no days given".to_string()),
            "daily" => return Ok(Days::DAILY),
            "weekdays" => return Ok(Days(0x1f)),
            "weekends" => return Ok(Days(0x60)),
            _ => {}
        }
        let mut bits = 0u8;
        for item in lower.split(',') {
            let item = item.trim();
            match item.split_once('-') {
                Some((from, to)) => {
                    let from = day_index(from.trim())?;
                    let to = day_index(to.trim())?;
                    let mut idx = from;
                    loop {
                        bits |= 1 << idx;
                        if idx == to {
                            break;
                        }
                        idx = (idx + 1) % 7;
                    }
                }
                None => bits |= 1 << day_index(item)?,
            }
        }
        Ok(Days(bits))
    }

    pub fn contains(self, day: Weekday) -> bool {
        self.0 & (1 << day.to_monday_zero_offset()) != 0
    }
}

/// The Monday-based index of a day's name.
fn day_index(name: &str) -> Result<u8, String> {
    const NAMES: [&[&str]; 7] = [
        &["mon", "monday"],
        &["tue", "tues", "tuesday"],
        &["wed", "wednesday"],
        &["thu", "thur", "thurs", "thursday"],
        &["fri", "friday"],
        &["sat", "saturday"],
        &["sun", "sunday"],
    ];
    if name.is_empty() {
        return Err("a day is missing around `-` or `,`".to_string());
    }
    NAMES
        .iter()
        .position(|names| names.contains(&name))
        .and_then(|idx| u8::try_from(idx).ok())
        .ok_or_else(|| format!("unknown day `{name}`"))
}

impl fmt::Display for Days {
    /// `daily`, or runs of days from Monday: `mon-fri`, `sat,sun`, `mon,wed-fri`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if *self == Days::DAILY {
            return f.write_str("daily");
        }
        let mut parts = Vec::new();
        let mut idx = 0;
        while idx < 7 {
            if self.0 & (1 << idx) == 0 {
                idx += 1;
                continue;
            }
            let start = idx;
            while idx + 1 < 7 && self.0 & (1 << (idx + 1)) != 0 {
                idx += 1;
            }
            match idx - start {
                0 => parts.push(WEEK[start].1.to_string()),
                1 => parts.push(format!("{},{}", WEEK[start].1, WEEK[idx].1)),
                _ => parts.push(format!("{}-{}", WEEK[start].1, WEEK[idx].1)),
            }
            idx += 1;
        }
        f.write_str(&parts.join(","))
    }
}

/// A range of wall-clock minutes, `start` included, `end` excluded. When `end` is before
/// `start` the range crosses midnight.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Hours {
    start: u16,
    end: u16,
}

impl Hours {
    /// The whole day, `00:00-24:00`.
    pub const ALL_DAY: Hours = Hours {
        start: 0,
        end: DAY_MINUTES,
    };

    /// Reads `HH:MM-HH:MM` (`9:00` is fine; `24:00` only as the end). A range whose ends are
    /// equal is refused: it is empty or the whole day, and `00:00-24:00` says the latter.
    pub fn parse(text: &str) -> Result<Hours, String> {
        let Some((from, to)) = text.split_once('-') else {
            return Err(format!("`{text}` is not an hour range like `09:00-17:00`"));
        };
        let start = minutes(from.trim())?;
        let end = minutes(to.trim())?;
        if start == DAY_MINUTES {
            return Err("a range cannot start at 24:00; write 00:00".to_string());
        }
        if start == end {
            return Err(format!(
                "`{text}` starts and ends at the same time; write `00:00-24:00` for the whole day"
            ));
        }
        Ok(Hours { start, end })
    }

    /// Minutes after midnight the range starts at.
    pub fn start_minutes(self) -> u16 {
        self.start
    }

    /// Minutes after midnight the range ends at (1440 for `24:00`).
    pub fn end_minutes(self) -> u16 {
        self.end
    }

    pub fn crosses_midnight(self) -> bool {
        self.end < self.start
    }
}

/// `HH:MM` as minutes after midnight, `24:00` included.
fn minutes(text: &str) -> Result<u16, String> {
    let bad = || format!("`{text}` is not a time like `09:30`");
    let (hours, mins) = text.split_once(':').ok_or_else(bad)?;
    let valid = |part: &str, max_len: usize| {
        !part.is_empty() && part.len() <= max_len && part.bytes().all(|b| b.is_ascii_digit())
    };
    if !valid(hours, 2) || !valid(mins, 2) || mins.len() != 2 {
        return Err(bad());
    }
    let hours: u16 = hours.parse().map_err(|_| bad())?;
    let mins: u16 = mins.parse().map_err(|_| bad())?;
    if mins >= 60 || hours > 24 || (hours == 24 && mins != 0) {
        return Err(format!("`{text}` is not a time of day (00:00 to 24:00)"));
    }
    Ok(hours * 60 + mins)
}

impl fmt::Display for Hours {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let hm = |m: u16| format!("{:02}:{:02}", m / 60, m % 60);
        write!(f, "{}-{}", hm(self.start), hm(self.end))
    }
}

/// One deployment window.
#[derive(Clone, Debug, PartialEq)]
pub struct Window {
    pub days: Days,
    pub hours: Hours,
    /// The time zone's name as written (`Europe/Amsterdam`, `UTC`), where it is written.
    pub time_zone: Spanned<String>,
}

impl Window {
    /// Whether the window is open at `now`, read on the clock of `tz` (the zone
    /// [`Window::time_zone`] names).
    pub fn open_at(&self, now: Timestamp, tz: &TimeZone) -> bool {
        let local = now.to_zoned(tz.clone());
        let minute = u16::try_from(local.hour()).unwrap_or(0) * 60
            + u16::try_from(local.minute()).unwrap_or(0);
        let day = local.weekday();
        let Hours { start, end } = self.hours;
        if self.hours.crosses_midnight() {
            (self.days.contains(day) && minute >= start)
                || (self.days.contains(day.previous()) && minute < end)
        } else {
            self.days.contains(day) && start <= minute && minute < end
        }
    }

    /// The first instant at or after `now` when the window is open: `now` itself when it is
    /// open. A start time that a daylight-saving change skips opens the window at the change;
    /// a start time the clock passes twice opens it twice. `None` only when the window never
    /// opens within nine days, which a parsed window cannot do.
    pub fn next_open(&self, now: Timestamp, tz: &TimeZone) -> Option<Timestamp> {
        if self.open_at(now, tz) {
            return Some(now);
        }
        let horizon = now
            .saturating_add(jiff::SignedDuration::from_hours(24 * HORIZON_DAYS))
            .unwrap_or(Timestamp::MAX);
        // The window can only open where the local clock reaches its start, or where the clock
        // jumps (into the range, or over the start).
        let mut candidates: Vec<Timestamp> = tz
            .following(now)
            .map(|transition| transition.timestamp())
            .take_while(|at| *at <= horizon)
            .collect();
        let today = now.to_zoned(tz.clone()).date();
        let start_hour = i8::try_from(self.hours.start / 60).unwrap_or(0);
        let start_minute = i8::try_from(self.hours.start % 60).unwrap_or(0);
        for offset in -1..=HORIZON_DAYS {
            let Some(date) = shift(today, offset) else {
                continue;
            };
            let Ok(start) = jiff::civil::DateTime::new(
                date.year(),
                date.month(),
                date.day(),
                start_hour,
                start_minute,
                0,
                0,
            ) else {
                continue;
            };
            let ambiguous = tz.to_ambiguous_timestamp(start);
            candidates.extend(ambiguous.earlier().ok());
            candidates.extend(ambiguous.later().ok());
        }
        candidates.retain(|at| *at > now && *at <= horizon);
        candidates.sort();
        candidates.into_iter().find(|at| self.open_at(*at, tz))
    }
}

fn shift(date: Date, days: i64) -> Option<Date> {
    date.checked_add(jiff::Span::new().days(days)).ok()
}

impl fmt::Display for Window {
    /// `mon-fri 09:00-17:00 Europe/Amsterdam`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {} {}", self.days, self.hours, self.time_zone.value)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tz(name: &str) -> TimeZone {
        TimeZone::get(name).unwrap()
    }

    fn window(days: &str, hours: &str, zone: &str) -> Window {
        Window {
            days: Days::parse(days).unwrap(),
            hours: Hours::parse(hours).unwrap(),
            time_zone: Spanned::new(zone.to_string(), Default::default()),
        }
    }

    /// A local time in `zone`, written `2026-03-29T02:30`, as a timestamp; in a fold the
    /// earlier instant.
    fn at(local: &str, zone: &str) -> Timestamp {
        let dt: jiff::civil::DateTime = local.parse().unwrap();
        tz(zone).to_ambiguous_timestamp(dt).earlier().unwrap()
    }

    #[test]
    fn days_are_read_from_names_ranges_and_lists() {
        let cases: &[(&str, &str)] = &[
            ("daily", "daily"),
            ("Daily", "daily"),
            ("mon-fri", "mon-fri"),
            ("weekdays", "mon-fri"),
            ("weekends", "sat,sun"),
            ("sat,sun", "sat,sun"),
            ("sun, sat", "sat,sun"),
            ("monday", "mon"),
            ("mon,wed-fri", "mon,wed-fri"),
            ("fri-mon", "mon,fri-sun"),
            ("mon-sun", "daily"),
            ("Thurs", "thu"),
            ("tue-tue", "tue"),
        ];
        for (text, shown) in cases {
            assert_eq!(Days::parse(text).unwrap().to_string(), *shown, "{text}");
        }
    }

    #[test]
    fn bad_days_say_what_is_wrong() {
        let cases: &[(&str, &str)] = &[
            ("", "no days given"),
            ("mnday", "unknown day `mnday`"),
            ("mon-", "a day is missing around `-` or `,`"),
            ("mon,,fri", "a day is missing around `-` or `,`"),
            ("1-5", "unknown day `1`"),
        ];
        for (text, message) in cases {
            assert_eq!(Days::parse(text).unwrap_err(), *message, "{text}");
        }
    }

    #[test]
    fn hours_are_read_as_ranges_that_may_cross_midnight() {
        let cases: &[(&str, u16, u16, bool)] = &[
            ("09:00-17:00", 540, 1020, false),
            ("9:00-17:30", 540, 1050, false),
            ("00:00-24:00", 0, 1440, false),
            ("22:00-02:00", 1320, 120, true),
            (" 23:15 - 00:45 ", 1395, 45, true),
        ];
        for (text, start, end, crosses) in cases {
            let hours = Hours::parse(text).unwrap();
            assert_eq!(
                (
                    hours.start_minutes(),
                    hours.end_minutes(),
                    hours.crosses_midnight()
                ),
                (*start, *end, *crosses),
                "{text}"
            );
        }
        assert_eq!(
            Hours::parse("9:00-17:30").unwrap().to_string(),
            "09:00-17:30"
        );
    }

    #[test]
    fn bad_hours_say_what_is_wrong() {
        let cases: &[(&str, &str)] = &[
            ("09:00", "`09:00` is not an hour range like `09:00-17:00`"),
            ("9-17", "`9` is not a time like `09:30`"),
            ("09:00-17:0", "`17:0` is not a time like `09:30`"),
            (
                "09:60-17:00",
                "`09:60` is not a time of day (00:00 to 24:00)",
            ),
            (
                "09:00-24:30",
                "`24:30` is not a time of day (00:00 to 24:00)",
            ),
            (
                "25:00-26:00",
                "`25:00` is not a time of day (00:00 to 24:00)",
            ),
            ("24:00-02:00", "a range cannot start at 24:00; write 00:00"),
            (
                "10:00-10:00",
                "`10:00-10:00` starts and ends at the same time; write `00:00-24:00` for the whole day",
            ),
            ("a:bc-10:00", "`a:bc` is not a time like `09:30`"),
        ];
        for (text, message) in cases {
            assert_eq!(Hours::parse(text).unwrap_err(), *message, "{text}");
        }
    }

    #[test]
    fn a_window_is_open_on_its_days_between_its_hours_on_the_local_clock() {
        let office = window("mon-fri", "09:00-17:00", "Europe/Amsterdam");
        let night = window("fri", "22:00-02:00", "Europe/Amsterdam");
        let always = window("daily", "00:00-24:00", "Europe/Amsterdam");
        // 2026-01-05 is a Monday.
        let cases: &[(&Window, &str, bool)] = &[
            (&office, "2026-01-05T09:00", true),
            (&office, "2026-01-05T08:59:59", false),
            (&office, "2026-01-05T16:59:59", true),
            (&office, "2026-01-05T17:00", false),
            (&office, "2026-01-09T12:00", true),
            (&office, "2026-01-10T12:00", false),
            (&office, "2026-01-11T12:00", false),
            // Summer time: still nine on the local clock.
            (&office, "2026-07-06T09:00", true),
            (&office, "2026-07-06T08:30", false),
            (&night, "2026-01-09T21:59", false),
            (&night, "2026-01-09T22:00", true),
            (&night, "2026-01-09T23:59", true),
            (&night, "2026-01-10T00:00", true),
            (&night, "2026-01-10T01:59", true),
            (&night, "2026-01-10T02:00", false),
            // The hours after midnight belong to the day before: Friday 00:30 is Thursday's.
            (&night, "2026-01-09T00:30", false),
            (&night, "2026-01-10T22:30", false),
            (&always, "2026-01-07T00:00", true),
            (&always, "2026-01-07T23:59:59", true),
        ];
        for (window, local, open) in cases {
            assert_eq!(
                window.open_at(at(local, "Europe/Amsterdam"), &tz("Europe/Amsterdam")),
                *open,
                "{window} at {local}"
            );
        }
    }

    #[test]
    fn the_same_instant_is_inside_or_outside_depending_on_the_zone() {
        // 08:30 UTC on a Monday in winter is 09:30 in Amsterdam and 03:30 in New York.
        let instant: Timestamp = "2026-01-05T08:30:00Z".parse().unwrap();
        let office = window("mon-fri", "09:00-17:00", "ignored here");
        assert!(office.open_at(instant, &tz("Europe/Amsterdam")));
        assert!(!office.open_at(instant, &tz("America/New_York")));
        assert!(!office.open_at(instant, &TimeZone::UTC));
    }

    #[test]
    fn the_next_opening_is_found_across_days_and_weekends() {
        let office = window("mon-fri", "09:00-17:00", "Europe/Amsterdam");
        let zone = "Europe/Amsterdam";
        // The expected opening, or `None` when the window is open at that moment already.
        let cases: &[(&str, Option<&str>)] = &[
            ("2026-01-05T10:00", None),
            // Before opening on a weekday.
            (
                "2026-01-05T07:00",
                Some("2026-01-05T09:00:00+01:00[Europe/Amsterdam]"),
            ),
            // After closing: the next morning.
            (
                "2026-01-05T17:00",
                Some("2026-01-06T09:00:00+01:00[Europe/Amsterdam]"),
            ),
            // Friday evening: Monday morning.
            (
                "2026-01-09T18:00",
                Some("2026-01-12T09:00:00+01:00[Europe/Amsterdam]"),
            ),
            // Sunday: Monday.
            (
                "2026-01-11T23:59",
                Some("2026-01-12T09:00:00+01:00[Europe/Amsterdam]"),
            ),
        ];
        for (local, expected) in cases {
            let now = at(local, zone);
            let expected = match expected {
                None => now,
                Some(text) => text.parse::<jiff::Zoned>().unwrap().timestamp(),
            };
            assert_eq!(office.next_open(now, &tz(zone)), Some(expected), "{local}");
        }
    }

    #[test]
    fn a_window_crossing_midnight_opens_at_its_start() {
        let night = window("sat,sun", "22:00-02:00", "UTC");
        let now: Timestamp = "2026-01-05T12:00:00Z".parse().unwrap(); // Monday
        assert_eq!(
            night.next_open(now, &TimeZone::UTC).unwrap(),
            "2026-01-10T22:00:00Z".parse::<Timestamp>().unwrap()
        );
        // Sunday 01:00 is Saturday night's window.
        let sunday_night: Timestamp = "2026-01-11T01:00:00Z".parse().unwrap();
        assert_eq!(
            night.next_open(sunday_night, &TimeZone::UTC),
            Some(sunday_night)
        );
        // Monday 01:00 is Sunday night's window too.
        let monday_night: Timestamp = "2026-01-12T01:00:00Z".parse().unwrap();
        assert!(night.open_at(monday_night, &TimeZone::UTC));
        // Tuesday 01:00 is not.
        let tuesday_night: Timestamp = "2026-01-13T01:00:00Z".parse().unwrap();
        assert!(!night.open_at(tuesday_night, &TimeZone::UTC));
    }

    #[test]
    fn windows_follow_daylight_saving_time_in_amsterdam() {
        let zone = tz("Europe/Amsterdam");
        // 2026-03-29 (Sunday): 02:00 CET becomes 03:00 CEST, at 01:00 UTC.
        // 2026-10-25 (Sunday): 03:00 CEST becomes 02:00 CET, at 01:00 UTC.
        let sunday_morning = window("sun", "09:00-10:00", "Europe/Amsterdam");
        assert_eq!(
            sunday_morning
                .next_open("2026-03-28T12:00:00Z".parse().unwrap(), &zone)
                .unwrap(),
            "2026-03-29T07:00:00Z".parse::<Timestamp>().unwrap(),
            "09:00 CEST is 07:00 UTC"
        );
        assert_eq!(
            sunday_morning
                .next_open("2026-10-24T12:00:00Z".parse().unwrap(), &zone)
                .unwrap(),
            "2026-10-25T08:00:00Z".parse::<Timestamp>().unwrap(),
            "09:00 CET is 08:00 UTC"
        );

        // A start inside the skipped hour opens the window when the clock jumps.
        let skipped = window("sun", "02:30-04:00", "Europe/Amsterdam");
        let before: Timestamp = "2026-03-29T00:59:59Z".parse().unwrap();
        assert!(!skipped.open_at(before, &zone));
        assert_eq!(
            skipped.next_open(before, &zone).unwrap(),
            "2026-03-29T01:00:00Z".parse::<Timestamp>().unwrap()
        );
        // It then lasts until 04:00 CEST, an hour shorter than usual.
        assert!(skipped.open_at("2026-03-29T01:59:00Z".parse().unwrap(), &zone));
        assert!(!skipped.open_at("2026-03-29T02:00:00Z".parse().unwrap(), &zone));

        // A range inside the repeated hour opens twice.
        let repeated = window("sun", "02:15-02:45", "Europe/Amsterdam");
        let first: Timestamp = "2026-10-25T00:15:00Z".parse().unwrap(); // 02:15 CEST
        let between: Timestamp = "2026-10-25T00:50:00Z".parse().unwrap(); // 02:50 CEST
        let second: Timestamp = "2026-10-25T01:15:00Z".parse().unwrap(); // 02:15 CET
        assert_eq!(
            repeated
                .next_open("2026-10-24T12:00:00Z".parse().unwrap(), &zone)
                .unwrap(),
            first
        );
        assert!(!repeated.open_at(between, &zone));
        assert_eq!(repeated.next_open(between, &zone).unwrap(), second);
        assert!(repeated.open_at("2026-10-25T01:44:00Z".parse().unwrap(), &zone));
        assert!(!repeated.open_at("2026-10-25T01:45:00Z".parse().unwrap(), &zone));
    }

    #[test]
    fn a_window_is_shown_as_written() {
        assert_eq!(
            window("weekdays", "9:00-17:00", "Europe/Amsterdam").to_string(),
            "mon-fri 09:00-17:00 Europe/Amsterdam"
        );
    }
}
