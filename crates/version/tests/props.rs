//! Property tests: total order (antisymmetry, transitivity, consistency with equality) and
//! parse/display round trip, for every scheme, over generated valid versions.

use std::cmp::Ordering;

use mamori_version::{Scheme, Version};
use proptest::prelude::*;

/// Generators of valid version strings per scheme, biased towards the tricky characters.
fn strategy(scheme: Scheme) -> BoxedStrategy<String> {
    match scheme {
        Scheme::Dpkg => "([0-9]:)?[0-9][0-9a-z.+~]{0,6}(-[0-9a-z.+~]{1,5})?".boxed(),
        Scheme::Rpm => "([0-9]:)?[0-9a-zA-Z][0-9a-zA-Z._+~^]{0,6}(-[0-9a-z._~^]{1,5})?".boxed(),
        Scheme::Apk => {
            "[0-9]{1,2}(\\.0?[0-9]{1,2}){0,2}[a-c]?(_(alpha|beta|pre|rc|cvs|svn|git|hg|p)[0-9]?){0,2}(~[0-9a-f]{1,3})?(-r[0-9]{1,2})?"
                .boxed()
        }
        Scheme::Semver => {
            "(0|[1-9][0-9]?)\\.(0|[1-9])\\.(0|[1-9])(-(0|[1-9][0-9]?|[a-z][a-z0-9-]?)(\\.(0|[1-9]|[a-z]{1,2})){0,2})?(\\+[a-z0-9]{1,3})?"
                .boxed()
        }
        Scheme::Go => {
            "v(0|[1-9])(\\.(0|[1-9])(\\.(0|[1-9])(-(0\\.)?(20[0-9]{12}-[0-9a-f]{12}|rc\\.[0-9]|alpha))?(\\+incompatible)?)?)?"
                .boxed()
        }
        Scheme::Pep440 => {
            "v?([0-9]!)?[0-9]{1,2}(\\.[0-9]{1,2}){0,3}((a|b|rc|alpha|c|pre)[0-9]?)?(\\.post[0-9]|-[0-9])?(\\.dev[0-9]?)?(\\+[a-z0-9]{1,3}(\\.[a-z0-9]{1,3})?)?"
                .boxed()
        }
        Scheme::Maven => "[0-9a-zA-Z]{1,3}([.-][0-9a-zA-Z]{0,5}){0,4}".boxed(),
        Scheme::RubyGems => "[0-9]{1,2}(\\.[0-9a-zA-Z]{1,3}){0,4}(-[0-9a-z]{1,3})?".boxed(),
    }
}

fn parse(scheme: Scheme, s: &str) -> Version {
    Version::parse(scheme, s)
        .unwrap_or_else(|e| panic!("generator produced an invalid version: {e}"))
}

fn check_scheme(scheme: Scheme) {
    let s = strategy(scheme);
    let mut runner = proptest::test_runner::TestRunner::new(ProptestConfig::with_cases(1500));
    runner
        .run(&(s.clone(), s.clone(), s), |(a, b, c)| {
            let (x, y, z) = (parse(scheme, &a), parse(scheme, &b), parse(scheme, &c));
            // Round trip: display gives back the text, which parses to an equal version.
            prop_assert_eq!(x.to_string(), a.trim());
            prop_assert_eq!(parse(scheme, &x.to_string()).cmp(&x), Ordering::Equal);
            // Antisymmetry.
            prop_assert_eq!(x.cmp(&y), y.cmp(&x).reverse(), "{} vs {}", a, b);
            prop_assert_eq!(x.cmp(&x), Ordering::Equal);
            // Transitivity (for <= and for =).
            if x <= y && y <= z {
                prop_assert!(x <= z, "{} <= {} <= {} but not {} <= {}", a, b, c, a, c);
            }
            if x == y && y == z {
                prop_assert!(x == z);
            }
            Ok(())
        })
        .unwrap_or_else(|e| panic!("{scheme}: {e}"));
}

#[test]
fn dpkg_total_order() {
    check_scheme(Scheme::Dpkg);
}
#[test]
fn rpm_total_order() {
    check_scheme(Scheme::Rpm);
}
#[test]
fn apk_total_order() {
    check_scheme(Scheme::Apk);
}
#[test]
fn semver_total_order() {
    check_scheme(Scheme::Semver);
}
#[test]
fn go_total_order() {
    check_scheme(Scheme::Go);
}
#[test]
fn pep440_total_order() {
    check_scheme(Scheme::Pep440);
}
#[test]
fn maven_total_order() {
    check_scheme(Scheme::Maven);
}
#[test]
fn rubygems_total_order() {
    check_scheme(Scheme::RubyGems);
}

proptest! {
    /// Parsers never panic on arbitrary input (they return a value or an error).
    #[test]
    fn parsers_never_panic(s in "\\PC{0,20}") {
        for scheme in Scheme::ALL {
            let _ = Version::parse(scheme, &s);
        }
    }
}
