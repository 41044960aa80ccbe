//! RFC 5424 / RFC 3164 around every body (CEF, LEEF, key=value, JSON), with both framings: no raw CR/LF inside a frame,
//! octet count equal to the message length, printable ASCII header.
#![no_main]
use gatekit_format::{
    CefFormatter, CefSettings, Formatter, Framing, JsonFormatter, KeyValueFormatter,
    LeefFormatter, LeefSettings, Syslog3164Formatter, Syslog5424Formatter, SyslogSettings,
};
use libfuzzer_sys::fuzz_target;

fn body(sel: u8) -> Box<dyn Formatter> {
    match sel % 4 {
        0 => Box::new(CefFormatter::new(CefSettings::default()).expect("defaults")),
        1 => Box::new(LeefFormatter::new(LeefSettings::default()).expect("defaults")),
        2 => Box::new(KeyValueFormatter),
        _ => Box::new(JsonFormatter),
    }
}

fuzz_target!(|data: &[u8]| {
    let e = gatekit_fuzz::event(data);
    let sel = data.first().copied().unwrap_or(0);
    let settings = SyslogSettings {
        sd_id: Some("gatekit@32473".into()),
        procid: Some(1),
        ..SyslogSettings::default()
    };
    let f5424 = Syslog5424Formatter::new(settings.clone(), body(sel)).expect("valid");
    let f3164 = Syslog3164Formatter::new(settings, body(sel / 4)).expect("valid");
    for f in [&f5424 as &dyn Formatter, &f3164] {
        let msg = gatekit_fuzz::check(f, &e);
        let mut framed = Vec::new();
        Framing::OctetCounting
            .write_frame(f, &e, &mut framed)
            .expect("frames");
        let sp = framed
            .iter()
            .position(|&b| b == b' ')
            .expect("length prefix");
        let n: usize = std::str::from_utf8(&framed[..sp])
            .expect("ascii")
            .parse()
            .expect("number");
        assert_eq!(n, msg.len());
        let mut lf = Vec::new();
        Framing::Lf
            .write_frame(f, &e, &mut lf)
            .expect("no raw line breaks");
        assert_eq!(lf.iter().filter(|&&b| b == b'\n').count(), 1);
    }
    // The RFC 5424 header up to STRUCTURED-DATA is printable ASCII separated by spaces.
    let msg = gatekit_fuzz::check(&f5424, &e);
    let header: Vec<&[u8]> = msg.splitn(7, |&b| b == b' ').take(6).collect();
    for h in header {
        assert!(h.iter().all(|&b| (33..=126).contains(&b)));
    }
});
