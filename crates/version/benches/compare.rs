//! ns per comparison of pre-parsed versions, per scheme, against plain string comparison of the
//! same strings (the baseline, measured in the same run).

use std::hint::black_box;

use criterion::{criterion_main, Criterion};
use mamori_version::{Scheme, Version};

fn samples(scheme: Scheme) -> Vec<&'static str> {
    match scheme {
        Scheme::Dpkg => vec![
            "1:2.38.1-5+deb12u1",
            "2.38.1-5+deb12u3",
            "7.88.1-10+deb12u5",
            "7.88.1-10+deb12u12",
            "1.0~rc1-1",
            "1.0-1~bpo12+1",
        ],
        Scheme::Rpm => vec![
            "1:9.0.87-3.el9_6.3",
            "9.0.87-3.el9_6",
            "2.5.0-1.el8",
            "2.5-10.el8_4",
            "1.0^git1-1",
            "1.0~rc1-2",
        ],
        Scheme::Apk => vec![
            "3.0.14-r0",
            "3.0.2-r5",
            "1.2.3_git20240101-r1",
            "1.0_rc1",
            "2.3.0b-r2",
            "1.0_p1",
        ],
        Scheme::Semver => vec![
            "1.0.0-alpha.1",
            "1.0.0-beta.11",
            "2.10.3",
            "2.9.30",
            "10.0.0-rc.1+build",
            "1.2.3",
        ],
        Scheme::Go => vec![
            "v1.2.3-0.20210101000000-abcdefabcdef",
            "v1.2.3",
            "v0.0.0-20200101000000-ffffffffffff",
            "v2.0.0+incompatible",
            "v1.21.3",
            "v1.9.0",
        ],
        Scheme::Pep440 => vec![
            "1.0.post1.dev0",
            "1.0rc1",
            "2.31.0",
            "1!0.1",
            "1.0+abc.5",
            "10.0a1",
        ],
        Scheme::Maven => vec![
            "1.0-SNAPSHOT",
            "5.3.0.RELEASE",
            "1.0-rc1",
            "2.17.1",
            "31.1-jre",
            "1.0.0.Alpha1",
        ],
        Scheme::RubyGems => vec![
            "1.0.0.pre",
            "7.0.4.3",
            "2.0.0.rc1",
            "1.0-1",
            "6.1.7.10",
            "0.10",
        ],
    }
}

fn bench(c: &mut Criterion) {
    let mut group = c.benchmark_group("compare");
    for scheme in Scheme::ALL {
        let strs = samples(scheme);
        let parsed: Vec<Version> = strs
            .iter()
            .map(|s| Version::parse(scheme, s).expect("bench sample parses")) // ok: fixed samples
            .collect();
        let n = (parsed.len() * parsed.len()) as u64;
        group.throughput(criterion::Throughput::Elements(n));
        group.bench_function(format!("{scheme}/parsed"), |b| {
            b.iter(|| {
                for x in &parsed {
                    for y in &parsed {
                        black_box(black_box(x).cmp(black_box(y)));
                    }
                }
            })
        });
        group.bench_function(format!("{scheme}/string-baseline"), |b| {
            b.iter(|| {
                for x in &strs {
                    for y in &strs {
                        black_box(black_box(x).cmp(black_box(y)));
                    }
                }
            })
        });
        group.bench_function(format!("{scheme}/parse+compare"), |b| {
            b.iter(|| {
                for x in &strs {
                    for y in &strs {
                        black_box(mamori_version::compare(scheme, x, y).ok());
                    }
                }
            })
        });
    }
    group.finish();
}

#[allow(missing_docs)] // ok: the macro generates an undocumented function
mod group {
    criterion::criterion_group!(benches, super::bench);
}
use group::benches;
criterion_main!(benches);
