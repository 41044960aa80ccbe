//! A small UTC timestamp type and the renderings the SIEM formats need.
//!
//! Job: hold an instant as signed nanoseconds since the Unix epoch and write it in the
//! forms the wire formats ask for, without a date/time crate:
//! - RFC 3339 with milliseconds and `Z` (JSON, RFC 5424 TIMESTAMP, Sentinel `TimeGenerated`);
//! - epoch milliseconds (CEF `rt`, LEEF `devTime`);
//! - epoch seconds with a millisecond fraction (Splunk HEC `time`);
//! - RFC 3164 `Mmm dd hh:mm:ss` (BSD syslog header);
//! - `MMM dd yyyy HH:mm:ss.SSS` (a CEF date format and an IBM-suggested LEEF `devTimeFormat`).
//!
//! Invariants: every renderer appends ASCII only, never CR/LF; the representable range
//! (years 1677..=2262, the range of `i64` nanoseconds) always renders as four-digit years;
//! all arithmetic is floor-based so instants before 1970 render correctly.

use std::fmt;

const NANOS_PER_SEC: i64 = 1_000_000_000;
const NANOS_PER_MILLI: i64 = 1_000_000;
const SECS_PER_DAY: i64 = 86_400;
const MONTHS: [&[u8; 3]; 12] = [
    b"Jan", b"Feb", b"Mar", b"Apr", b"May", b"Jun", b"Jul", b"Aug", b"Sep", b"Oct", b"Nov", b"Dec",
];

/// An instant in UTC, stored as nanoseconds since 1970-01-01T00:00:00Z.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Timestamp(i64);

/// A broken-down UTC date and time (proleptic Gregorian calendar).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Civil {
    /// Year, e.g. 2026.
    pub year: i64,
    /// Month, 1..=12.
    pub month: u32,
    /// Day of month, 1..=31.
    pub day: u32,
    /// Hour, 0..=23.
    pub hour: u32,
    /// Minute, 0..=59.
    pub minute: u32,
    /// Second, 0..=59 (no leap seconds, as in RFC 5424 §6.2.3).
    pub second: u32,
    /// Nanoseconds within the second.
    pub nanos: u32,
}

/// Why a string is not an RFC 3339 timestamp.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid RFC 3339 timestamp {input:?}: {reason}")]
pub struct TimestampParseError {
    input: String,
    reason: &'static str,
}

impl Timestamp {
    /// The instant `nanos` nanoseconds after the Unix epoch.
    pub const fn from_unix_nanos(nanos: i64) -> Self {
        Self(nanos)
    }

    /// The instant `millis` milliseconds after the Unix epoch (saturating).
    pub const fn from_unix_millis(millis: i64) -> Self {
        Self(millis.saturating_mul(NANOS_PER_MILLI))
    }

    /// The current wall-clock time. The gateway calls this when an event is born;
    /// formatters never do.
    pub fn now() -> Self {
        let nanos = match std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH) {
            Ok(d) => i64::try_from(d.as_nanos()).unwrap_or(i64::MAX),
            Err(e) => i64::try_from(e.duration().as_nanos()).map_or(i64::MIN, |n| -n),
        };
        Self(nanos)
    }

    /// Nanoseconds since the Unix epoch.
    pub const fn unix_nanos(self) -> i64 {
        self.0
    }

    /// Whole milliseconds since the Unix epoch, rounded towards negative infinity.
    pub const fn unix_millis(self) -> i64 {
        self.0.div_euclid(NANOS_PER_MILLI)
    }

    /// Breaks the instant into calendar fields (UTC).
    pub fn civil(self) -> Civil {
        let secs = self.0.div_euclid(NANOS_PER_SEC);
        // rem_euclid of a positive modulus is in 0..1e9, so the cast cannot truncate.
        let nanos = self.0.rem_euclid(NANOS_PER_SEC) as u32;
        let days = secs.div_euclid(SECS_PER_DAY);
        let sod = secs.rem_euclid(SECS_PER_DAY) as u32;
        let (year, month, day) = civil_from_days(days);
        Civil {
            year,
            month,
            day,
            hour: sod / 3600,
            minute: (sod / 60) % 60,
            second: sod % 60,
            nanos,
        }
    }

    /// Builds a timestamp from calendar fields; `None` if a field is out of range or the
    /// instant does not fit in `i64` nanoseconds.
    pub fn from_civil(c: Civil) -> Option<Self> {
        if !(1..=12).contains(&c.month)
            || c.day < 1
            || c.day > days_in_month(c.year, c.month)
            || c.hour > 23
            || c.minute > 59
            || c.second > 59
            || c.nanos >= 1_000_000_000
        {
            return None;
        }
        let days = days_from_civil(c.year, c.month, c.day);
        let secs = days
            .checked_mul(SECS_PER_DAY)?
            .checked_add(i64::from(c.hour * 3600 + c.minute * 60 + c.second))?;
        secs.checked_mul(NANOS_PER_SEC)?
            .checked_add(i64::from(c.nanos))
            .map(Self)
    }

    /// Appends `YYYY-MM-DDThh:mm:ss.sssZ` (RFC 3339 §5.6, millisecond precision, UTC).
    pub fn write_rfc3339_millis(self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.rfc3339_millis_bytes());
    }

    /// The RFC 3339 millisecond form as 24 ASCII bytes on the stack (no allocation; the
    /// formatters call this for every event).
    pub fn rfc3339_millis_bytes(self) -> [u8; 24] {
        let c = self.civil();
        let d = |v: u32| b'0' + (v % 10) as u8;
        let y = c.year.clamp(0, 9999) as u32;
        let ms = c.nanos / 1_000_000;
        [
            d(y / 1000),
            d(y / 100),
            d(y / 10),
            d(y),
            b'-',
            d(c.month / 10),
            d(c.month),
            b'-',
            d(c.day / 10),
            d(c.day),
            b'T',
            d(c.hour / 10),
            d(c.hour),
            b':',
            d(c.minute / 10),
            d(c.minute),
            b':',
            d(c.second / 10),
            d(c.second),
            b'.',
            d(ms / 100),
            d(ms / 10),
            d(ms),
            b'Z',
        ]
    }

    /// The RFC 3339 millisecond form as a `String`.
    pub fn to_rfc3339_millis(self) -> String {
        let mut v = Vec::with_capacity(24);
        self.write_rfc3339_millis(&mut v);
        ascii_string(v)
    }

    /// Appends the epoch in milliseconds as a decimal integer (CEF `rt`, LEEF `devTime`).
    pub fn write_epoch_millis(self, out: &mut Vec<u8>) {
        push_i64(out, self.unix_millis());
    }

    /// Appends epoch seconds with a three-digit millisecond fraction, e.g.
    /// `1763371800.123` (Splunk HEC `time`, which is seconds, not milliseconds).
    pub fn write_epoch_seconds_millis(self, out: &mut Vec<u8>) {
        let ms = self.unix_millis();
        if ms < 0 {
            out.push(b'-');
        }
        let abs = ms.unsigned_abs();
        push_u64(out, abs / 1000);
        out.push(b'.');
        // abs % 1000 < 1000, so it fits in u32.
        push_3(out, (abs % 1000) as u32);
    }

    /// Appends the RFC 3164 §4.1.2 TIMESTAMP `Mmm dd hh:mm:ss`: English month, day padded
    /// with a space (`Nov  7`), no year, no zone.
    pub fn write_rfc3164(self, out: &mut Vec<u8>) {
        let c = self.civil();
        push_month(out, c.month);
        out.push(b' ');
        if c.day < 10 {
            out.push(b' ');
            out.push(b'0' + c.day as u8);
        } else {
            push_2(out, c.day);
        }
        out.push(b' ');
        push_hms(out, &c);
    }

    /// Appends `MMM dd yyyy HH:mm:ss.SSS` (Java `SimpleDateFormat` pattern, UTC), a date
    /// form that both the CEF Implementation Standard and IBM's LEEF `devTimeFormat`
    /// guidance list.
    pub fn write_mmm_dd_yyyy_millis(self, out: &mut Vec<u8>) {
        let c = self.civil();
        push_month(out, c.month);
        out.push(b' ');
        push_2(out, c.day);
        out.push(b' ');
        push_year(out, c.year);
        out.push(b' ');
        push_hms(out, &c);
        out.push(b'.');
        push_3(out, c.nanos / 1_000_000);
    }

    /// Parses an RFC 3339 `date-time` (`T`/`t`/space separator, optional fraction of up to
    /// nine significant digits, `Z` or a numeric offset).
    pub fn parse_rfc3339(s: &str) -> Result<Self, TimestampParseError> {
        let err = |reason| TimestampParseError {
            input: s.to_owned(),
            reason,
        };
        let b = s.as_bytes();
        if b.len() < 20 {
            return Err(err("too short"));
        }
        let num = |range: std::ops::Range<usize>| -> Option<u32> {
            let part = b.get(range)?;
            part.iter().try_fold(0u32, |acc, &d| {
                d.is_ascii_digit().then(|| acc * 10 + u32::from(d - b'0'))
            })
        };
        let sep_ok = b[4] == b'-'
            && b[7] == b'-'
            && matches!(b[10], b'T' | b't' | b' ')
            && b[13] == b':'
            && b[16] == b':';
        if !sep_ok {
            return Err(err("bad separators"));
        }
        let (Some(year), Some(month), Some(day), Some(hour), Some(minute), Some(second)) = (
            num(0..4),
            num(5..7),
            num(8..10),
            num(11..13),
            num(14..16),
            num(17..19),
        ) else {
            return Err(err("non-digit in date or time"));
        };
        let mut i = 19;
        let mut nanos = 0u32;
        if b[i] == b'.' {
            i += 1;
            let start = i;
            let mut scale = 100_000_000;
            while i < b.len() && b[i].is_ascii_digit() {
                nanos += u32::from(b[i] - b'0') * scale;
                scale /= 10;
                i += 1;
            }
            if i == start {
                return Err(err("empty fraction"));
            }
        }
        let offset_secs: i64 = match b.get(i) {
            Some(b'Z' | b'z') if i + 1 == b.len() => 0,
            Some(&sign @ (b'+' | b'-')) if i + 6 == b.len() && b[i + 3] == b':' => {
                let (Some(oh), Some(om)) = (num(i + 1..i + 3), num(i + 4..i + 6)) else {
                    return Err(err("bad offset"));
                };
                if oh > 23 || om > 59 {
                    return Err(err("offset out of range"));
                }
                let v = i64::from(oh * 3600 + om * 60);
                if sign == b'+' {
                    v
                } else {
                    -v
                }
            }
            _ => return Err(err("missing or malformed zone")),
        };
        let local = Self::from_civil(Civil {
            year: i64::from(year),
            month,
            day,
            hour,
            minute,
            second,
            nanos,
        })
        .ok_or_else(|| err("field out of range"))?;
        local
            .0
            .checked_sub(offset_secs * NANOS_PER_SEC)
            .map(Self)
            .ok_or_else(|| err("out of range"))
    }
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_rfc3339_millis())
    }
}

impl serde::Serialize for Timestamp {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let buf = self.rfc3339_millis_bytes();
        // The renderer writes ASCII only.
        s.serialize_str(std::str::from_utf8(&buf).unwrap_or_default())
    }
}

impl<'de> serde::Deserialize<'de> for Timestamp {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        Self::parse_rfc3339(&s).map_err(serde::de::Error::custom)
    }
}

/// Days since 1970-01-01 to (year, month, day): the civil-from-days conversion over
/// 400-year eras of 146,097 days, with years starting on March 1 so that the leap day
/// is the last day of the year.
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468; // shift epoch to 0000-03-01
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097); // day of era, 0..=146096
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365; // 0..=399
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100); // day of (March-based) year
    let mp = (5 * doy + 2) / 153; // March-based month, 0..=11
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

/// The inverse of [`civil_from_days`].
fn days_from_civil(year: i64, month: u32, day: u32) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let m = i64::from(month);
    let mp = if m > 2 { m - 3 } else { m + 9 };
    let doy = (153 * mp + 2) / 5 + i64::from(day) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn days_in_month(year: i64, month: u32) -> u32 {
    match month {
        2 if (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

fn ascii_string(v: Vec<u8>) -> String {
    String::from_utf8(v).unwrap_or_default()
}

fn push_2(out: &mut Vec<u8>, v: u32) {
    out.push(b'0' + (v / 10 % 10) as u8);
    out.push(b'0' + (v % 10) as u8);
}

fn push_3(out: &mut Vec<u8>, v: u32) {
    out.push(b'0' + (v / 100 % 10) as u8);
    push_2(out, v % 100);
}

fn push_year(out: &mut Vec<u8>, y: i64) {
    // i64 nanoseconds span 1677..=2262, always four digits and positive.
    let y = y.clamp(0, 9999) as u32;
    push_2(out, y / 100);
    push_2(out, y % 100);
}

fn push_month(out: &mut Vec<u8>, month: u32) {
    let idx = (month.clamp(1, 12) - 1) as usize;
    out.extend_from_slice(MONTHS[idx]);
}

fn push_hms(out: &mut Vec<u8>, c: &Civil) {
    push_2(out, c.hour);
    out.push(b':');
    push_2(out, c.minute);
    out.push(b':');
    push_2(out, c.second);
}

fn push_u64(out: &mut Vec<u8>, mut v: u64) {
    let mut buf = [0u8; 20];
    let mut i = buf.len();
    loop {
        i -= 1;
        buf[i] = b'0' + (v % 10) as u8;
        v /= 10;
        if v == 0 {
            break;
        }
    }
    out.extend_from_slice(&buf[i..]);
}

fn push_i64(out: &mut Vec<u8>, v: i64) {
    if v < 0 {
        out.push(b'-');
    }
    push_u64(out, v.unsigned_abs());
}

#[cfg(test)]
mod tests {
    use super::*;

    fn render(t: Timestamp, f: fn(Timestamp, &mut Vec<u8>)) -> String {
        let mut v = Vec::new();
        f(t, &mut v);
        String::from_utf8(v).unwrap()
    }

    #[test]
    fn known_instants_render_in_every_form() {
        // 2025-11-17T09:30:00.123Z = 1763371800.123 (docs/reference/splunk-hec.md §3).
        let t = Timestamp::from_unix_millis(1_763_371_800_123);
        assert_eq!(t.to_rfc3339_millis(), "2025-11-17T09:30:00.123Z");
        assert_eq!(render(t, Timestamp::write_epoch_millis), "1763371800123");
        assert_eq!(
            render(t, Timestamp::write_epoch_seconds_millis),
            "1763371800.123"
        );
        assert_eq!(render(t, Timestamp::write_rfc3164), "Nov 17 09:30:00");
        assert_eq!(
            render(t, Timestamp::write_mmm_dd_yyyy_millis),
            "Nov 17 2025 09:30:00.123"
        );
    }

    #[test]
    fn rfc3164_pads_single_digit_day_with_space() {
        let t = Timestamp::parse_rfc3339("2024-03-07T01:02:03Z").unwrap();
        assert_eq!(render(t, Timestamp::write_rfc3164), "Mar  7 01:02:03");
    }

    #[test]
    fn leap_day_and_epoch_edges() {
        for (s, ms) in [
            ("1970-01-01T00:00:00.000Z", 0i64),
            ("2000-02-29T23:59:59.999Z", 951_868_799_999),
            ("1969-12-31T23:59:59.999Z", -1),
            ("2100-03-01T00:00:00.000Z", 4_107_542_400_000),
        ] {
            let t = Timestamp::from_unix_millis(ms);
            assert_eq!(t.to_rfc3339_millis(), s, "render {ms}");
            assert_eq!(Timestamp::parse_rfc3339(s).unwrap(), t, "parse {s}");
        }
        assert_eq!(
            render(
                Timestamp::from_unix_millis(-1),
                Timestamp::write_epoch_seconds_millis
            ),
            "-0.001"
        );
    }

    #[test]
    fn parse_accepts_offsets_and_rejects_garbage() {
        let z = Timestamp::parse_rfc3339("2024-01-15T10:30:00.000Z").unwrap();
        let off = Timestamp::parse_rfc3339("2024-01-15T12:30:00+02:00").unwrap();
        assert_eq!(z, off);
        for bad in [
            "2024-01-15",
            "2024-13-15T10:30:00Z",
            "2023-02-29T10:30:00Z",
            "2024-01-15T10:30:00",
            "2024-01-15T10:30:00.Z",
            "2024-01-15T10:30:00+2:00",
            "2024-01-15X10:30:00Z",
        ] {
            assert!(Timestamp::parse_rfc3339(bad).is_err(), "{bad}");
        }
    }

    proptest::proptest! {
        #[test]
        fn civil_roundtrip(ms in -9_000_000_000_000i64..9_000_000_000_000i64) {
            let t = Timestamp::from_unix_millis(ms);
            proptest::prop_assert_eq!(Timestamp::from_civil(t.civil()), Some(t));
            proptest::prop_assert_eq!(Timestamp::parse_rfc3339(&t.to_rfc3339_millis()).unwrap(), t);
        }

        #[test]
        fn parse_never_panics(s in "\\PC{0,40}", digits in "[0-9T:.Z+-]{18,34}") {
            let _ = Timestamp::parse_rfc3339(&s);
            let _ = Timestamp::parse_rfc3339(&digits);
        }
    }
}
