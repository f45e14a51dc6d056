//! The example /etc/wms/wms.toml the package installs changes nothing as installed, and
//! every setting it shows, uncommented, is valid and is the default it claims to be.

use wms_host::Config;

const EXAMPLE: &str = include_str!("../../../packaging/wms.toml");

#[test]
fn the_example_parses_as_installed() {
    Config::parse(EXAMPLE).expect("the example as installed");
}

#[test]
fn every_setting_shown_is_valid_and_the_default() {
    // `#key = value` lines are the settings; `#   listen = [...]` (indented) are examples.
    let settings: Vec<&str> = EXAMPLE
        .lines()
        .filter_map(|l| l.strip_prefix('#'))
        .filter(|l| l.starts_with(|c: char| c.is_ascii_lowercase()) && l.contains(" = "))
        .collect();
    assert!(settings.len() >= 25, "{settings:?}");
    let text = settings.join("\n");
    let shown = Config::parse(&text).unwrap_or_else(|e| panic!("{e}\n{text}"));
    let defaults = Config::parse("").unwrap();
    assert_eq!(format!("{shown:?}"), format!("{defaults:?}"));
}
