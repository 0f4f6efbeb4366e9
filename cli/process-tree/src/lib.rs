//! The processes below a process, read from /proc (Linux). Shared by
//! `kmq bench` (a broker's CPU and memory include the real node it started)
//! and the test kit, tests/kit (freezing a broker freezes that node too).

/// `pid` and its descendants that are alive now, parents first.
pub fn process_tree(pid: u32) -> Vec<u32> {
    let mut all = vec![pid];
    let mut i = 0;
    while i < all.len() {
        let tasks = std::fs::read_dir(format!("/proc/{}/task", all[i])).into_iter().flatten().flatten();
        for task in tasks {
            let children = std::fs::read_to_string(task.path().join("children")).unwrap_or_default();
            all.extend(children.split_whitespace().filter_map(|c| c.parse::<u32>().ok()));
        }
        i += 1;
    }
    all
}
