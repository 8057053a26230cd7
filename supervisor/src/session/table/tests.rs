//! The table's invariants: slots, uids, process groups and removed ids.

use protocol::{AgentId, Session};
use tokio::sync::watch;

use super::*;
use crate::eventlog::Progress;

fn entry(id: &str, request_hash: u64) -> Arc<SessionEntry> {
    let session = Session::pending(
        SessionId::parse(id).unwrap(),
        AgentId::parse("a").unwrap(),
        String::new(),
    );
    let (_, progress) = watch::channel(Progress::default());
    let mut entry = SessionEntry::recovered(session, "/nonexistent".into(), progress);
    entry.request_hash = request_hash;
    Arc::new(entry)
}

fn admit(table: &SessionTable, id: &str, hash: u64) -> String {
    let id = SessionId::parse(id).unwrap();
    match table.admit(&id, hash, 2, |uid| {
        let mut entry = entry(id.as_str(), hash);
        Arc::get_mut(&mut entry).expect("a new entry").uid = uid;
        Ok::<_, ()>(entry)
    }) {
        Admission::Admitted(e) => match e.uid {
            Some(uid) => format!("admitted {} as {uid}", e.id),
            None => format!("admitted {}", e.id),
        },
        Admission::Existing(e) => format!("existing {}", e.id),
        Admission::Conflict => "conflict".into(),
        Admission::Removed => "removed".into(),
        Admission::Busy(n) => format!("busy {n}"),
        Admission::Failed(()) => "failed".into(),
    }
}

#[test]
fn a_slot_is_held_from_admission_until_finish_or_forget() {
    let table = SessionTable::default();
    assert_eq!(admit(&table, "s-1", 1), "admitted s-1");
    assert_eq!(admit(&table, "s-1", 1), "existing s-1");
    assert_eq!(admit(&table, "s-1", 2), "conflict");
    assert_eq!(admit(&table, "s-2", 1), "admitted s-2");
    assert_eq!(admit(&table, "s-3", 1), "busy 2");
    // Finishing twice frees one slot, not two.
    table.finish(&SessionId::parse("s-1").unwrap());
    table.finish(&SessionId::parse("s-1").unwrap());
    assert_eq!(table.running(), 1);
    table.forget(&SessionId::parse("s-2").unwrap());
    assert_eq!(table.running(), 0);
    let listed: Vec<String> = table.list().iter().map(|e| e.id.to_string()).collect();
    assert_eq!(
        listed,
        ["s-1"],
        "a finished session stays listed, a forgotten one does not"
    );
}

#[tokio::test]
async fn a_wait_for_room_ends_when_a_slot_and_a_uid_are_free() {
    let range = crate::process::UidRange::parse("100-101").unwrap();
    let table = Arc::new(SessionTable::new(Some(UidPool::new(range))));
    let room = |t: &SessionTable| (t.room(2) > 0).then(|| t.room(2));
    assert_eq!(table.until(room).await, 2, "at once when there is room");
    assert_eq!(admit(&table, "s-1", 1), "admitted s-1 as 100");
    assert_eq!(admit(&table, "s-2", 1), "admitted s-2 as 101");
    let waiter = tokio::spawn({
        let table = table.clone();
        async move { table.until(room).await }
    });
    tokio::task::yield_now().await;
    let id = |s: &str| SessionId::parse(s).unwrap();
    table.finish(&id("s-1"));
    tokio::task::yield_now().await;
    assert!(!waiter.is_finished(), "a free slot without a free uid is no room");
    table.release_uid(&id("s-1"));
    assert_eq!(waiter.await.unwrap(), 1);
}

#[test]
fn a_uid_is_held_until_released_after_finish_and_never_handed_out_twice() {
    let range = crate::process::UidRange::parse("100-101").unwrap();
    let table = SessionTable::new(Some(UidPool::new(range)));
    assert_eq!(admit(&table, "s-1", 1), "admitted s-1 as 100");
    assert_eq!(admit(&table, "s-2", 1), "admitted s-2 as 101");
    let id = |s: &str| SessionId::parse(s).unwrap();
    table.finish(&id("s-1"));
    // The slot is free, but processes of uid 100 may still run: no uid to hand out.
    assert_eq!(admit(&table, "s-3", 1), "busy 1");
    table.release_uid(&id("s-1"));
    table.release_uid(&id("s-1"));
    assert_eq!(admit(&table, "s-3", 1), "admitted s-3 as 100");
    // A session that never ran gives its uid back at once.
    table.finish(&id("s-2"));
    table.forget(&id("s-3"));
    assert_eq!(table.free_uids(), Some(1), "101 is still held by s-2");
    assert_eq!(admit(&table, "s-4", 1), "admitted s-4 as 100");
}

/// Above the kernel's largest `pid_max` (2^22): no process group can have this number.
const NO_SUCH_GROUP: u32 = 1 << 30;

#[test]
fn a_process_group_is_signalled_only_while_it_is_live() {
    let table = SessionTable::default();
    // A pgid no live session holds is refused before any signal is sent.
    assert!(!table.signal_group(NO_SUCH_GROUP, Signal::SIGKILL));
    table.started(NO_SUCH_GROUP);
    // No such group exists: ESRCH is not an error, and the signal was allowed.
    assert!(table.signal_group(NO_SUCH_GROUP, Signal::SIGTERM));
    table.release_group(NO_SUCH_GROUP);
    assert!(!table.signal_group(NO_SUCH_GROUP, Signal::SIGKILL));
}

#[test]
fn a_retired_session_is_gone_for_good_and_its_id_is_never_run_again() {
    let table = SessionTable::default();
    let id = |s: &str| SessionId::parse(s).unwrap();
    assert_eq!(admit(&table, "s-1", 1), "admitted s-1");
    assert_eq!(admit(&table, "s-2", 1), "admitted s-2");
    table.finish(&id("s-1"));
    // s-2 is still running: retiring it does nothing.
    let retired: Vec<String> = table
        .retire(&[id("s-1"), id("s-2")])
        .iter()
        .map(|e| e.id.to_string())
        .collect();
    assert_eq!(retired, ["s-1"]);
    assert!(table.get(&id("s-1")).is_none());
    assert!(table.was_removed(&id("s-1")));
    assert!(!table.was_removed(&id("s-2")));
    let listed: Vec<String> = table.list().iter().map(|e| e.id.to_string()).collect();
    assert_eq!(listed, ["s-2"]);
    assert_eq!(
        admit(&table, "s-1", 1),
        "removed",
        "the same request is not run again"
    );
    assert_eq!(admit(&table, "s-1", 7), "removed");
    table.remember_removed([id("s-9")]);
    assert_eq!(admit(&table, "s-9", 1), "removed");
    assert_eq!(table.removed_ids(), [id("s-1"), id("s-9")]);
}
