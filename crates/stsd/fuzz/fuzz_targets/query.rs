//! The Query-protocol decoder on arbitrary query strings and bodies: decoding and every accessor must
//! return a value or an AWS error, never panic or allocate without bound. Each input runs on a thread with a
//! 256 KiB stack, so recursion that grows with the input would show up here.
#![no_main]

use libfuzzer_sys::fuzz_target;
use stsd_wire::Params;

fuzz_target!(|data: &[u8]| {
    let data = data.to_vec();
    let worker = std::thread::Builder::new()
        .stack_size(256 * 1024)
        .spawn(move || run(&data))
        .expect("spawn fuzz worker");
    if worker.join().is_err() {
        panic!("the Query decoder panicked");
    }
});

fn run(data: &[u8]) {
    let split = data.first().map_or(0, |b| usize::from(*b)).min(data.len());
    let (query, body) = data.split_at(split);
    let query = String::from_utf8_lossy(query);
    if let Ok(p) = Params::decode(&query, body) {
        for name in [
            "Tags",
            "PolicyArns",
            "TransitiveTagKeys",
            "ContextEntries",
            "Filter",
        ] {
            let _ = p.list(name);
            if let Ok(Some(items)) = p.struct_list(name) {
                for item in items {
                    let _ = item.list("ContextKeyValues");
                }
            }
            let _ = p.map(name);
        }
        // Every generated decoder (and its validators) of every served operation.
        use stsd_wire::generated::{iam, sts};
        for op in iam::OPERATIONS {
            let _ = iam::decode_op(op.name, &p);
        }
        for op in sts::OPERATIONS {
            let _ = sts::decode_op(op.name, &p);
        }
    }
}
