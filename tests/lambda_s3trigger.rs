//! The s3trigger function's handler against a local moto: real jobs and
//! s3triggers tables (with the realm template's `s3trigger-index`), real
//! worker queues, and the dispatch messages read back from them.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use aws_config::SdkConfig;
use aws_sdk_dynamodb::types::AttributeValue;
use aws_sdk_sqs::types::QueueAttributeName;
use lava_layout::LambdaFunction;
use lava_s3trigger::{Clock, Config, Error, S3Trigger, Summary};
use lava_tests::moto::{self, sdk_config, Moto};
use lava_tests::realm;
use lava_tests::runtime_api::{answer, invoke, invoke_row};
use serde_json::{json, Value};

const REALM: &str = "test";
const BUCKET: &str = "data-bkt";

/// A realm on moto: jobs and s3triggers tables, queues for workers core and bulk.
struct Realm {
    moto: Moto,
    config: SdkConfig,
    dynamodb: aws_sdk_dynamodb::Client,
    sqs: aws_sdk_sqs::Client,
}

impl Realm {
    async fn new() -> Realm {
        let moto = moto::start();
        let config = sdk_config(&moto.endpoint()).await;
        let dynamodb = aws_sdk_dynamodb::Client::new(&config);
        let sqs = aws_sdk_sqs::Client::new(&config);

        realm::create_jobs_table(&dynamodb, REALM).await;
        realm::create_s3triggers_table(&dynamodb, REALM).await;
        for worker in ["core", "bulk"] {
            realm::create_queue(&sqs, REALM, worker).await;
        }
        let realm = Realm {
            moto,
            config,
            dynamodb,
            sqs,
        };
        realm.job("load", "core", true).await;
        realm.job("audit", "core", true).await;
        realm.job("slow", "bulk", true).await;
        realm.job("sleepy", "core", false).await;
        realm
    }

    async fn put(&self, table: &str, item: Value) {
        let item: HashMap<String, AttributeValue> = item
            .as_object()
            .unwrap()
            .iter()
            .map(|(k, v)| (k.clone(), realm::typed(v)))
            .collect();
        self.dynamodb
            .put_item()
            .table_name(format!("lava.{REALM}.{table}"))
            .set_item(Some(item))
            .send()
            .await
            .expect("put item");
    }

    async fn job(&self, job_id: &str, worker: &str, enabled: bool) {
        self.put(
            "jobs",
            json!({"job_id": job_id, "worker": worker, "type": "cmd", "payload": "true", "enabled": enabled,
                   "owner": "me", "description": "test job"}),
        )
        .await;
    }

    /// An enabled trigger on BUCKET unless `spec` says otherwise.
    async fn trigger(&self, trigger_id: &str, prefix: &str, job_id: Value, extra: Value) {
        let mut spec = json!({"trigger_id": trigger_id, "bucket": BUCKET, "prefix": prefix,
                              "job_id": job_id, "enabled": true});
        for (k, v) in extra.as_object().unwrap() {
            spec[k] = v.clone();
        }
        self.put("s3triggers", spec).await;
    }

    fn handler(&self) -> S3Trigger {
        S3Trigger::new(&self.config, Config::new(REALM))
    }

    fn handler_with(&self, tweak: impl FnOnce(&mut Config)) -> S3Trigger {
        let mut config = Config::new(REALM);
        tweak(&mut config);
        S3Trigger::new(&self.config, config)
    }

    async fn queue_url(&self, worker: &str) -> String {
        self.sqs
            .get_queue_url()
            .queue_name(format!("lava-{REALM}-{worker}"))
            .send()
            .await
            .unwrap()
            .queue_url
            .unwrap()
    }

    /// Every message visible now on the worker's queue (deleted once read).
    async fn drain(&self, worker: &str) -> Vec<Value> {
        let url = self.queue_url(worker).await;
        let mut out = Vec::new();
        loop {
            let got = self
                .sqs
                .receive_message()
                .queue_url(&url)
                .max_number_of_messages(10)
                .wait_time_seconds(0)
                .send()
                .await
                .expect("receive");
            let messages = got.messages.unwrap_or_default();
            if messages.is_empty() {
                return out;
            }
            for m in messages {
                out.push(serde_json::from_str(m.body().unwrap()).expect("JSON message"));
                self.sqs
                    .delete_message()
                    .queue_url(&url)
                    .receipt_handle(m.receipt_handle().unwrap())
                    .send()
                    .await
                    .unwrap();
            }
        }
    }

    async fn delayed(&self, worker: &str) -> u64 {
        let url = self.queue_url(worker).await;
        let attrs = self
            .sqs
            .get_queue_attributes()
            .queue_url(url)
            .attribute_names(QueueAttributeName::ApproximateNumberOfMessagesDelayed)
            .send()
            .await
            .unwrap();
        attrs.attributes.unwrap()[&QueueAttributeName::ApproximateNumberOfMessagesDelayed]
            .parse()
            .unwrap()
    }
}

// ---- event shapes --------------------------------------------------------

/// An S3 bucket notification record; `key` as S3 sends it (URL-encoded).
fn s3_record(bucket: &str, key: &str, size: Option<u64>, event_name: &str) -> Value {
    let mut object =
        json!({"key": key, "eTag": "0123456789abcdef", "sequencer": "0A1B2C3D4E5F678901"});
    if let Some(size) = size {
        object["size"] = json!(size);
    }
    json!({
        "eventVersion": "2.1", "eventSource": "aws:s3", "awsRegion": "ap-southeast-2",
        "eventTime": "2024-05-01T10:20:30.123Z", "eventName": event_name,
        "userIdentity": {"principalId": "EXAMPLE"},
        "requestParameters": {"sourceIPAddress": "10.200.240.5"},
        "responseElements": {"x-amz-request-id": "EXAMPLE123456789"},
        "s3": {"s3SchemaVersion": "1.0", "configurationId": "lava",
               "bucket": {"name": bucket, "arn": format!("arn:aws:s3:::{bucket}")}, "object": object}
    })
}

/// `record` without its field `name`.
fn without(mut record: Value, name: &str) -> Value {
    record.as_object_mut().unwrap().remove(name);
    record
}

fn put(key: &str) -> Value {
    s3_record(BUCKET, key, Some(2048), "ObjectCreated:Put")
}

fn direct(records: Vec<Value>) -> Value {
    json!({"Records": records})
}

fn via_sns(inner: &Value) -> Value {
    json!({"Records": [{"EventSource": "aws:sns", "EventVersion": "1.0",
        "Sns": {"Type": "Notification", "TopicArn": "arn:aws:sns:us-east-1:123456789012:s3",
                "Subject": "Amazon S3 Notification", "Message": inner.to_string()}}]})
}

fn sqs_record(body: String) -> Value {
    json!({"messageId": "m1", "eventSource": "aws:sqs", "awsRegion": "us-east-1",
           "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:s3", "body": body})
}

fn via_sqs(inner: &Value) -> Value {
    json!({"Records": [sqs_record(inner.to_string())]})
}

/// SNS to SQS without raw message delivery: the SNS notification is the body.
fn via_sns_in_sqs(inner: &Value) -> Value {
    let notification = json!({"Type": "Notification", "MessageId": "n1",
        "TopicArn": "arn:aws:sns:us-east-1:123456789012:s3", "Message": inner.to_string()});
    json!({"Records": [sqs_record(notification.to_string())]})
}

fn eventbridge(key: &str, size: u64) -> Value {
    json!({
        "version": "0", "id": "1e22c59c-015a-cd36-cca9-1b65e749706f", "detail-type": "Object Created",
        "source": "aws.s3", "account": "123456789012", "time": "2024-05-01T10:20:30Z", "region": "eu-west-1",
        "resources": [format!("arn:aws:s3:::{BUCKET}")],
        "detail": {"version": "0", "bucket": {"name": BUCKET},
                   "object": {"key": key, "size": size, "etag": "61484bb7", "sequencer": "0061EB9323D941BCDB"},
                   "request-id": "ZPJXPT6X0AK24FCQ", "requester": "123456789012",
                   "source-ip-address": "121.183.34.120", "reason": "PutObject"}
    })
}

fn summary(
    records: usize,
    dispatched: usize,
    skipped: usize,
    duplicates: usize,
    errors: usize,
) -> Summary {
    Summary {
        records,
        dispatched,
        skipped,
        duplicates,
        errors,
        run_ids: Vec::new(),
    }
}

/// The summary without its run ids, to compare counts.
fn counts(s: &Summary) -> Summary {
    Summary {
        run_ids: Vec::new(),
        ..s.clone()
    }
}

fn job_ids(messages: &[Value]) -> Vec<&str> {
    let mut ids: Vec<&str> = messages
        .iter()
        .map(|m| m["job_id"].as_str().unwrap())
        .collect();
    ids.sort_unstable();
    ids
}

// ---- tests ---------------------------------------------------------------

#[tokio::test]
async fn every_event_source_dispatches_with_rendered_parameters_and_globals() {
    let realm = Realm::new().await;
    realm
        .trigger(
            "incoming",
            "in",
            json!("load"),
            json!({
                "description": "files arriving in in/",
                "owner": "data team",
                "x-ci": "ignored by lava",
                "parameters": {
                    "args": ["{{ bucket }}", "{{ key }}"],
                    "env": {
                        "OBJECT": "s3://{{ bucket }}/{{ key }}",
                        "SIZE": "{{ info.size }}",
                        "TYPE": "{{ info.event_type }}",
                        "BASE": "{{ key.split('/')[-1] }}",
                        "IP": "{{ info.source_ip }}"
                    },
                    "timeout": 30
                },
                "globals": {"source": {"bucket": "{{bucket}}", "key": "{{key}}"}, "region": "{{ info.aws_region }}"}
            }),
        )
        .await;
    let handler = realm.handler();

    let notification = |raw: &str| direct(vec![put(raw)]);
    let cases: Vec<(&str, Value, &str, &str, &str, &str, u64)> = vec![
        // (source, event, decoded key, base name, event type, region, size)
        (
            "direct",
            notification("in/2024/sales+report%281%29.csv"),
            "in/2024/sales report(1).csv",
            "sales report(1).csv",
            "ObjectCreated:Put",
            "ap-southeast-2",
            2048,
        ),
        (
            "sns",
            via_sns(&notification("in/sns+file.csv")),
            "in/sns file.csv",
            "sns file.csv",
            "ObjectCreated:Put",
            "ap-southeast-2",
            2048,
        ),
        (
            "sqs",
            via_sqs(&notification("in/sqs%2Bplus%C3%A9.csv")),
            "in/sqs+plusé.csv",
            "sqs+plusé.csv",
            "ObjectCreated:Put",
            "ap-southeast-2",
            2048,
        ),
        (
            "sns in sqs",
            via_sns_in_sqs(&notification("in/wrapped.csv")),
            "in/wrapped.csv",
            "wrapped.csv",
            "ObjectCreated:Put",
            "ap-southeast-2",
            2048,
        ),
        // EventBridge keys are not URL-encoded: a + is a +.
        (
            "eventbridge",
            eventbridge("in/eb+file.csv", 77),
            "in/eb+file.csv",
            "eb+file.csv",
            "ObjectCreated:PutObject",
            "eu-west-1",
            77,
        ),
        (
            "eventbridge in sqs",
            via_sqs(&eventbridge("in/eb2.csv", 5)),
            "in/eb2.csv",
            "eb2.csv",
            "ObjectCreated:PutObject",
            "eu-west-1",
            5,
        ),
    ];

    for (source, event, key, base, event_type, region, size) in cases {
        let result = handler
            .handle(&event)
            .await
            .unwrap_or_else(|e| panic!("{source}: {e}"));
        assert_eq!(counts(&result), summary(1, 1, 0, 0, 0), "{source}");
        let messages = realm.drain("core").await;
        assert_eq!(messages.len(), 1, "{source}: {messages:?}");
        let mut message = messages[0].clone();
        let ts = message
            .as_object_mut()
            .unwrap()
            .remove("ts_dispatch")
            .expect("ts_dispatch");
        assert!(ts.as_str().unwrap().ends_with("+00:00"), "{source}: {ts}");
        let ip = if source.starts_with("eventbridge") {
            "121.183.34.120"
        } else {
            "10.200.240.5"
        };
        assert_eq!(
            message,
            json!({
                "realm": REALM,
                "worker": "core",
                "job_id": "load",
                "run_id": result.run_ids[0],
                "parameters": {
                    "args": [BUCKET, key],
                    "env": {
                        "OBJECT": format!("s3://{BUCKET}/{key}"),
                        "SIZE": size.to_string(),
                        "TYPE": event_type,
                        "BASE": base,
                        "IP": ip
                    },
                    "timeout": 30
                },
                "globals": {"source": {"bucket": BUCKET, "key": key}, "region": region}
            }),
            "{source}"
        );
    }
}

#[tokio::test]
async fn the_trigger_delay_holds_the_message_back() {
    let realm = Realm::new().await;
    realm
        .trigger("later", "later", json!("slow"), json!({"delay": "3s"}))
        .await;
    let handler = realm.handler();

    let sent = Instant::now();
    let result = handler
        .handle(&direct(vec![put("later/x.csv")]))
        .await
        .unwrap();
    assert_eq!(counts(&result), summary(1, 1, 0, 0, 0));
    assert!(
        realm.drain("bulk").await.is_empty(),
        "visible before its delay"
    );
    assert_eq!(realm.delayed("bulk").await, 1);

    let messages = loop {
        let messages = realm.drain("bulk").await;
        if !messages.is_empty() {
            break messages;
        }
        assert!(
            sent.elapsed() < Duration::from_secs(15),
            "the delayed message never arrived"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert!(
        sent.elapsed() >= Duration::from_millis(2500),
        "arrived after {:?}",
        sent.elapsed()
    );
    assert_eq!(messages.len(), 1);
    assert_eq!(messages[0]["job_id"], "slow");
    assert_eq!(messages[0]["worker"], "bulk");
    assert_eq!(messages[0]["run_id"], result.run_ids[0].as_str());

    // Beyond the SQS limit the trigger entry is bad: nothing is sent.
    realm
        .trigger("toolate", "toolate", json!("slow"), json!({"delay": "16m"}))
        .await;
    let result = handler
        .handle(&direct(vec![put("toolate/x.csv")]))
        .await
        .unwrap();
    assert_eq!(counts(&result), summary(1, 0, 0, 0, 1));
    assert_eq!(realm.delayed("bulk").await, 0);
}

#[tokio::test]
async fn prefixes_match_by_path_component_most_specific_first() {
    let realm = Realm::new().await;
    realm.trigger("ab", "a/b", json!("load"), json!({})).await;
    realm.trigger("a", "a", json!("audit"), json!({})).await;
    realm
        .trigger("a-off", "a", json!("load"), json!({"enabled": false}))
        .await;
    realm.trigger("root", "*", json!("audit"), json!({})).await;
    realm
        .trigger("two", "two", json!(["load", "{{ 'audit' }}"]), json!({}))
        .await;
    let handler = realm.handler();

    // a/b wins over a and *: only its job.
    let r = handler
        .handle(&direct(vec![put("a/b/c/d.csv")]))
        .await
        .unwrap();
    assert_eq!(counts(&r), summary(1, 1, 0, 0, 0));
    assert_eq!(job_ids(&realm.drain("core").await), ["load"]);

    // Both entries at level a; the disabled one is skipped.
    let r = handler.handle(&direct(vec![put("a/x.csv")])).await.unwrap();
    assert_eq!(counts(&r), summary(1, 1, 1, 0, 0));
    assert_eq!(job_ids(&realm.drain("core").await), ["audit"]);

    // "ab/..." is not under prefix "a": the bucket root entry answers.
    let r = handler
        .handle(&direct(vec![put("ab/x.csv"), put("top.csv")]))
        .await
        .unwrap();
    assert_eq!(counts(&r), summary(2, 2, 0, 0, 0));
    assert_eq!(job_ids(&realm.drain("core").await), ["audit", "audit"]);

    // A list of job ids, each rendered.
    let r = handler
        .handle(&direct(vec![put("two/x.csv")]))
        .await
        .unwrap();
    assert_eq!(counts(&r), summary(1, 2, 0, 0, 0));
    assert_eq!(job_ids(&realm.drain("core").await), ["audit", "load"]);

    // Another bucket has no entries at all: counted, nothing sent.
    let r = handler
        .handle(&direct(vec![s3_record(
            "elsewhere",
            "a/b/c.csv",
            Some(1),
            "ObjectCreated:Put",
        )]))
        .await
        .unwrap();
    assert_eq!(counts(&r), summary(1, 0, 0, 0, 1));
    assert!(realm.drain("core").await.is_empty());
}

#[tokio::test]
async fn disabled_triggers_disabled_jobs_and_unmatched_prefixes_dispatch_nothing() {
    let realm = Realm::new().await;
    realm
        .trigger("off", "off", json!("load"), json!({"enabled": false}))
        .await;
    realm
        .trigger("sleepy", "sleepy", json!("sleepy"), json!({}))
        .await;
    let handler = realm.handler();

    let r = handler
        .handle(&direct(vec![put("off/x.csv")]))
        .await
        .unwrap();
    assert_eq!(counts(&r), summary(1, 0, 1, 0, 0));
    let r = handler
        .handle(&direct(vec![put("sleepy/x.csv")]))
        .await
        .unwrap();
    assert_eq!(counts(&r), summary(1, 0, 1, 0, 0));
    // No entry for this prefix and none for the bucket root.
    let r = handler
        .handle(&direct(vec![put("unknown/x.csv")]))
        .await
        .unwrap();
    assert_eq!(counts(&r), summary(1, 0, 0, 0, 1));
    assert!(realm.drain("core").await.is_empty());
}

#[tokio::test]
async fn if_conditions_select_events() {
    let realm = Realm::new().await;
    realm
        .trigger(
            "cond",
            "cond",
            json!("load"),
            json!({
                "if_fnmatch": ["*.csv", "*.txt"],
                "if_not_fnmatch": "*ignore*",
                "if_size_gt": "1KiB",
                "if_event_type": "ObjectCreated:*"
            }),
        )
        .await;
    realm
        .trigger(
            "badcond",
            "badcond",
            json!("load"),
            json!({"if_size_gt": "lots"}),
        )
        .await;
    let handler = realm.handler();

    let records = vec![
        put("cond/yes.csv"),
        put("cond/yes.txt"),
        put("cond/no.json"),
        put("cond/ignore/no.csv"),
        s3_record(BUCKET, "cond/small.csv", Some(1024), "ObjectCreated:Put"),
        s3_record(BUCKET, "cond/gone.csv", None, "ObjectRemoved:Delete"),
    ];
    let r = handler.handle(&direct(records)).await.unwrap();
    assert_eq!(counts(&r), summary(6, 2, 4, 0, 0));
    let messages = realm.drain("core").await;
    // No parameters or globals configured: none sent.
    assert!(
        messages
            .iter()
            .all(|m| m.get("parameters").is_none() && m.get("globals").is_none()),
        "{messages:?}"
    );
    assert_eq!(job_ids(&messages), ["load", "load"]);

    let r = handler
        .handle(&direct(vec![put("badcond/x.csv")]))
        .await
        .unwrap();
    assert_eq!(counts(&r), summary(1, 0, 0, 0, 1));
    assert!(realm.drain("core").await.is_empty());
}

#[tokio::test]
async fn duplicates_within_the_window_dispatch_once() {
    let realm = Realm::new().await;
    realm
        .trigger(
            "dup",
            "dup",
            json!("load"),
            json!({"parameters": {"key": "{{ key }}"}}),
        )
        .await;
    let dedup = realm.handler_with(|c| {
        c.dedup_cache_size = 100;
        c.dedup_ttl = Duration::from_secs(30);
    });

    let event = via_sqs(&direct(vec![put("dup/x.csv")]));
    let r = dedup.handle(&event).await.unwrap();
    assert_eq!(counts(&r), summary(1, 1, 0, 0, 0));
    // The same object again, in a later invocation of the same (warm) function.
    let r = dedup.handle(&event).await.unwrap();
    assert_eq!(counts(&r), summary(1, 0, 0, 1, 0));
    // Twice in one batch, and once more with a different size (a new version).
    let batch = direct(vec![
        put("dup/y.csv"),
        put("dup/y.csv"),
        s3_record(BUCKET, "dup/x.csv", Some(1), "ObjectCreated:Put"),
    ]);
    let r = dedup.handle(&batch).await.unwrap();
    assert_eq!(counts(&r), summary(3, 2, 0, 1, 0));
    let messages = realm.drain("core").await;
    let mut keys: Vec<&str> = messages
        .iter()
        .map(|m| m["parameters"]["key"].as_str().unwrap())
        .collect();
    keys.sort_unstable();
    assert_eq!(keys, ["dup/x.csv", "dup/x.csv", "dup/y.csv"]);

    // After the window the object dispatches again: the handler's clock is
    // moved past it.
    let start = Instant::now();
    let elapsed_ms = Arc::new(AtomicU64::new(0));
    let clock = {
        let elapsed_ms = elapsed_ms.clone();
        Clock::new(move || start + Duration::from_millis(elapsed_ms.load(Ordering::SeqCst)))
    };
    let short = realm.handler_with(|c| {
        c.dedup_cache_size = 100;
        c.dedup_ttl = Duration::from_secs(30);
        c.clock = clock;
    });
    let event = direct(vec![put("dup/z.csv")]);
    assert_eq!(short.handle(&event).await.unwrap().dispatched, 1);
    elapsed_ms.store(29_999, Ordering::SeqCst);
    assert_eq!(short.handle(&event).await.unwrap().duplicates, 1);
    elapsed_ms.store(30_000, Ordering::SeqCst);
    assert_eq!(short.handle(&event).await.unwrap().dispatched, 1);
    assert_eq!(realm.drain("core").await.len(), 2);

    // De-duplication is off by default, as upstream.
    let plain = realm.handler();
    assert_eq!(plain.handle(&event).await.unwrap().dispatched, 1);
    assert_eq!(plain.handle(&event).await.unwrap().dispatched, 1);
    assert_eq!(realm.drain("core").await.len(), 2);
}

#[tokio::test]
async fn bad_records_are_counted_and_the_rest_still_dispatch() {
    let realm = Realm::new().await;
    realm
        .trigger(
            "good",
            "good",
            json!("load"),
            json!({"parameters": {"key": "{{ key }}"}}),
        )
        .await;
    realm
        .trigger(
            "badtpl",
            "badtpl",
            json!("load"),
            json!({"parameters": {"key": "{{ key "}}),
        )
        .await;
    realm
        .trigger(
            "badglobals",
            "badglobals",
            json!("load"),
            json!({"globals": {"g": "{{ nope.nothing }}"}}),
        )
        .await;
    realm
        .trigger("ghost", "ghost", json!("no-such-job"), json!({}))
        .await;
    realm
        .trigger("list", "list", json!(["no-such-job", "load"]), json!({}))
        .await;
    realm
        .trigger(
            "badspec",
            "badspec",
            json!("load"),
            json!({"colour": "blue"}),
        )
        .await;
    realm
        .trigger("badjobid", "badjobid", json!(42), json!({}))
        .await;
    let handler = realm.handler();

    let event = json!({"Records": [
        sqs_record(direct(vec![put("badtpl/x.csv")]).to_string()),
        sqs_record(direct(vec![put("ghost/x.csv")]).to_string()),
        sqs_record(direct(vec![put("good/1.csv"), put("badglobals/x.csv")]).to_string()),
        sqs_record(direct(vec![put("list/x.csv")]).to_string()),
        sqs_record(direct(vec![put("badspec/x.csv"), put("badjobid/x.csv")]).to_string()),
        sqs_record(direct(vec![put("good/2.csv")]).to_string()),
    ]});
    let r = handler.handle(&event).await.unwrap();
    // Errors: badtpl, ghost, badglobals, list's unknown job, badspec, badjobid.
    assert_eq!(counts(&r), summary(8, 3, 0, 0, 6));
    let messages = realm.drain("core").await;
    assert_eq!(job_ids(&messages), ["load", "load", "load"]);
    let mut keys: Vec<Value> = messages
        .iter()
        .map(|m| m["parameters"]["key"].clone())
        .collect();
    keys.sort_by_key(|k| k.to_string());
    assert_eq!(
        keys,
        [json!("good/1.csv"), json!("good/2.csv"), Value::Null]
    );
    let mut sent: Vec<&str> = messages
        .iter()
        .map(|m| m["run_id"].as_str().unwrap())
        .collect();
    let mut reported: Vec<&str> = r.run_ids.iter().map(String::as_str).collect();
    sent.sort_unstable();
    reported.sort_unstable();
    assert_eq!(sent, reported);
}

#[tokio::test]
async fn jinja_false_sends_entries_verbatim() {
    let realm = Realm::new().await;
    realm
        .trigger(
            "raw",
            "raw",
            json!("load"),
            json!({"jinja": false, "parameters": {"x": "{{ bucket }}"}, "globals": {"g": "{% raw %}"}}),
        )
        .await;
    let r = realm
        .handler()
        .handle(&direct(vec![put("raw/x.csv")]))
        .await
        .unwrap();
    assert_eq!(counts(&r), summary(1, 1, 0, 0, 0));
    let messages = realm.drain("core").await;
    assert_eq!(messages[0]["parameters"], json!({"x": "{{ bucket }}"}));
    assert_eq!(messages[0]["globals"], json!({"g": "{% raw %}"}));
}

#[tokio::test]
async fn unknown_event_shapes_are_errors_and_test_events_are_ignored() {
    let realm = Realm::new().await;
    let handler = realm.handler();

    for event in [
        json!({"job_id": "load"}),
        json!({"detail-type": "Scheduled Event", "source": "aws.events", "detail": {}}),
        json!(["Records"]),
    ] {
        match handler.handle(&event).await {
            Err(Error::Event(msg)) => assert!(!msg.is_empty(), "{event}"),
            other => panic!("{event}: expected an unknown event error, got {other:?}"),
        }
    }
    let err = handler
        .handle(&json!({"hello": "world"}))
        .await
        .unwrap_err();
    assert!(
        err.to_string().contains("Cannot determine event format"),
        "{err}"
    );

    let test_event = json!({"Service": "Amazon S3", "Event": "s3:TestEvent", "Time": "2024-05-01T10:20:30.000Z",
                            "Bucket": BUCKET, "RequestId": "r", "HostId": "h"});
    assert_eq!(
        handler.handle(&test_event).await.unwrap(),
        Summary::default()
    );
    assert_eq!(
        handler.handle(&via_sqs(&test_event)).await.unwrap(),
        Summary::default()
    );
    assert!(realm.drain("core").await.is_empty());
}

/// What an invocation of the shipped function does with an event, with the
/// expected values read from upstream's `lambda/s3trigger/s3trigger.py` and
/// `s3event.py`.
struct Row {
    what: &'static str,
    event: Value,
    /// `LAVA_SQS_MAX_DELAY_MINS`, unset when `None`.
    max_delay_mins: Option<&'static str>,
    /// The counts the answer gives, or `Err(part of the message)` when the
    /// invocation fails.
    outcome: Result<Summary, &'static str>,
    /// The `parameters` of each message on the core queue.
    core: Vec<Value>,
    /// Messages SQS holds back on the core queue.
    delayed: u64,
}

/// The counts of an answer or summary, without its run ids.
fn answered_counts(mut answer: Value) -> Value {
    answer.as_object_mut().unwrap().remove("run_ids");
    answer
}

/// Each row is one invocation of the dist zip's `bootstrap` through the
/// local Runtime API, against this realm in moto.
#[tokio::test]
async fn outcomes_as_upstream_through_the_runtime_api() {
    let realm = Realm::new().await;
    let params = json!({"parameters": {"key": "{{ key }}", "size": "{{ info.size }}", "type": "{{ info.event_type }}"}});
    realm
        .trigger("ok", "ok", json!("load"), params.clone())
        .await;
    realm
        .trigger("big", "big", json!("load"), json!({"if_size_gt": "1K"}))
        .await;
    realm
        .trigger(
            "later",
            "later",
            json!("load"),
            json!({"delay": "2m", "parameters": {"key": "{{ key }}"}}),
        )
        .await;
    realm
        .put(
            "jobs",
            json!({"job_id": "unset", "worker": "core", "type": "cmd", "payload": "true"}),
        )
        .await;
    realm
        .trigger("unset", "unset", json!("unset"), json!({}))
        .await;
    let ok = put("ok/a.csv");
    let deleted = s3_record(BUCKET, "ok/gone.csv", None, "ObjectRemoved:Delete");
    let rows = [
        Row {
            what: "a good record, then an SQS body that is not JSON: json.loads raises (s3event.py:138)",
            event: json!({"Records": [sqs_record(direct(vec![ok.clone()]).to_string()), sqs_record("not JSON".into())]}),
            max_delay_mins: None,
            outcome: Err("Records[1]: body is not JSON"),
            core: vec![],
            delayed: 0,
        },
        Row {
            what: "a record from another source raises (s3event.py:149)",
            event: json!({"Records": [ok.clone(), {"eventSource": "aws:kinesis", "kinesis": {}}]}),
            max_delay_mins: None,
            outcome: Err("Records[1]: Unexpected event source: aws:kinesis"),
            core: vec![],
            delayed: 0,
        },
        Row {
            what: "an SQS body of no known shape raises (s3event.py:153)",
            event: via_sqs(&json!({"hello": "world"})),
            max_delay_mins: None,
            outcome: Err("Records[0]: Cannot determine event format"),
            core: vec![],
            delayed: 0,
        },
        Row {
            what: "a record without its key: KeyError (s3event.py:211, s3trigger.py:411)",
            event: direct(vec![ok.clone(), json!({"eventSource": "aws:s3", "s3": {"bucket": {"name": BUCKET}, "object": {}}})]),
            max_delay_mins: None,
            outcome: Err("Records[1]: S3 notification record without s3.object.key"),
            core: vec![],
            delayed: 0,
        },
        Row {
            what: "a record without its time: KeyError in canon (s3event.py:236)",
            event: direct(vec![ok.clone(), without(put("ok/b.csv"), "eventTime")]),
            max_delay_mins: None,
            outcome: Err("Records[1]: S3 notification record without eventTime"),
            core: vec![],
            delayed: 0,
        },
        Row {
            what: "a record without its event name: KeyError in canon (s3event.py:243)",
            event: direct(vec![ok.clone(), without(put("ok/b.csv"), "eventName")]),
            max_delay_mins: None,
            outcome: Err("Records[1]: S3 notification record without eventName"),
            core: vec![],
            delayed: 0,
        },
        Row {
            what: "an EventBridge event without its reason: KeyError in canon (s3event.py:344)",
            event: {
                let mut event = eventbridge("ok/c.csv", 3);
                event["detail"].as_object_mut().unwrap().remove("reason");
                event
            },
            max_delay_mins: None,
            outcome: Err("EventBridge event without detail.reason"),
            core: vec![],
            delayed: 0,
        },
        Row {
            what: "an EventBridge event dispatches with its own event type (s3event.py:334-344)",
            event: eventbridge("ok/c.csv", 3),
            max_delay_mins: None,
            outcome: Ok(summary(1, 1, 0, 0, 0)),
            core: vec![json!({"key": "ok/c.csv", "size": "3", "type": "ObjectCreated:PutObject"})],
            delayed: 0,
        },
        Row {
            what: "no trigger for one object: counted, the other dispatches (s3trigger.py:418-423, 562-563)",
            event: direct(vec![put("none/x.csv"), ok.clone()]),
            max_delay_mins: None,
            outcome: Ok(summary(2, 1, 0, 0, 1)),
            core: vec![json!({"key": "ok/a.csv", "size": "2048", "type": "ObjectCreated:Put"})],
            delayed: 0,
        },
        Row {
            what: "a delete has no size: rendered as Python's None (upstream: KeyError in canon)",
            event: direct(vec![deleted.clone()]),
            max_delay_mins: None,
            outcome: Ok(summary(1, 1, 0, 0, 0)),
            core: vec![json!({"key": "ok/gone.csv", "size": "None", "type": "ObjectRemoved:Delete"})],
            delayed: 0,
        },
        Row {
            what: "if_size_gt on a delete: condition error, counted (s3trigger.py:434-440)",
            event: direct(vec![s3_record(BUCKET, "big/gone.csv", None, "ObjectRemoved:Delete")]),
            max_delay_mins: None,
            outcome: Ok(summary(1, 0, 0, 0, 1)),
            core: vec![],
            delayed: 0,
        },
        Row {
            what: "LAVA_SQS_MAX_DELAY_MINS bounds the trigger's delay (s3trigger.py:183-201)",
            event: direct(vec![put("later/a.csv")]),
            max_delay_mins: Some("1"),
            outcome: Ok(summary(1, 0, 0, 0, 1)),
            core: vec![],
            delayed: 0,
        },
        Row {
            what: "within the bound, the delay holds the message back",
            event: direct(vec![put("later/b.csv")]),
            max_delay_mins: Some("3"),
            outcome: Ok(summary(1, 1, 0, 0, 0)),
            core: vec![],
            delayed: 1,
        },
        Row {
            what: "a bound that is not an integer fails each lookup that finds entries (lava/config.py:211-213)",
            event: direct(vec![ok.clone()]),
            max_delay_mins: Some("x"),
            outcome: Ok(summary(1, 0, 0, 0, 1)),
            core: vec![],
            delayed: 1,
        },
        Row {
            what: "a job without enabled is disabled, as upstream (lavacore.get_job_spec defaults it to False)",
            event: direct(vec![put("unset/a.csv")]),
            max_delay_mins: None,
            outcome: Ok(summary(1, 0, 1, 0, 0)),
            core: vec![],
            delayed: 1,
        },
    ];
    for row in rows {
        let (run, answered) = invoke_row(
            LambdaFunction::S3trigger,
            REALM,
            &realm.moto,
            &row.event,
            row.max_delay_mins,
            row.what,
        );
        match (answered, &row.outcome) {
            (Ok(got), Ok(want)) => assert_eq!(
                answered_counts(got),
                answered_counts(serde_json::to_value(want).unwrap()),
                "{}",
                row.what
            ),
            (Err(message), Err(part)) => {
                assert!(message.contains(part), "{}: {message}", row.what)
            }
            (got, _) => panic!("{}: got {got:?}\n{}", row.what, run.output),
        }
        let core: Vec<Value> = realm
            .drain("core")
            .await
            .into_iter()
            .map(|m| m["parameters"].clone())
            .collect();
        assert_eq!(core, row.core, "{}", row.what);
        assert_eq!(realm.delayed("core").await, row.delayed, "{}", row.what);
    }
}

/// Trigger templates written for upstream's Jinja2 reach the worker queue as
/// upstream renders them: at least one row for each member of `utils`, each
/// datetime method, each of Jinja2's filters (but `random`, and `urlize`
/// which docs/compatibility.md lists) and each `str` method. Each expected value is what Jinja2 3.1 gives for upstream's way
/// (the JSON text of `parameters` as one template, JINJA_UTILS of
/// `lava/lavacore.py`, `info` as `S3EventRecord.canon` with `event_time`
/// from dateutil) on this event: `(name, template, rendered)`.
const TEMPLATES: &[(&str, &str, &str)] = &[
    ("re.sub", "{{ utils.re.sub('[0-9]+', 'N', key) }}", "py/N/N/data file.csv"),
    ("re.search", "{{ utils.re.search('(\\d{4})/(\\d{2})', key).group(1) }}", "2024"),
    ("re.match", "{{ utils.re.match('py/(?P<y>\\d+)', key).group('y') }}", "2024"),
    ("re.match.none", "{{ utils.re.match('2024', key) }}", "None"),
    ("re.split", "{{ utils.re.split('[/ ]', key) }}", "['py', '2024', '05', 'data', 'file.csv']"),
    ("re.findall", "{{ utils.re.findall('\\d+', key) }}", "['2024', '05']"),
    ("re.fullmatch", "{{ utils.re.fullmatch('py/.*csv', key) is not none }}", "True"),
    ("re.IGNORECASE", "{{ utils.re.sub('DATA', 'x', key, flags=utils.re.IGNORECASE) }}", "py/2024/05/x file.csv"),
    ("timedelta", "{{ utils.timedelta(days=1, hours=2, minutes=3) }}", "1 day, 2:03:00"),
    ("timedelta.total_seconds", "{{ utils.timedelta(minutes=90).total_seconds() }}", "5400.0"),
    ("date", "{{ utils.date(2024, 2, 29) + utils.timedelta(days=1) }}", "2024-03-01"),
    ("date.isoformat", "{{ utils.date(2024, 2, 29).isoformat() }}", "2024-02-29"),
    ("time", "{{ utils.time(9, 5) }}", "09:05:00"),
    ("time.strftime", "{{ utils.time(21, 5, 7).strftime('%I:%M %p') }}", "09:05 PM"),
    ("datetime", "{{ utils.datetime(2024, 5, 1, 10, 20) }}", "2024-05-01 10:20:00"),
    ("datetime.strptime", "{{ utils.datetime.strptime('01/05/2024 07:08', '%d/%m/%Y %H:%M') }}", "2024-05-01 07:08:00"),
    ("datetime.fromisoformat", "{{ utils.datetime.fromisoformat('2024-05-01T10:20:30+10:00').utcoffset() }}", "10:00:00"),
    ("datetime.combine", "{{ utils.datetime.combine(utils.date(2024, 5, 1), utils.time(6)) }}", "2024-05-01 06:00:00"),
    ("dateutil.relativedelta", "{{ (info.event_time + utils.dateutil.relativedelta.relativedelta(day=31)).date() }}", "2024-05-31"),
    ("dateutil.relativedelta.months", "{{ (info.event_time - utils.dateutil.relativedelta.relativedelta(months=3)).strftime('%Y-%m') }}", "2024-02"),
    ("dateutil.parser.parse", "{{ utils.dateutil.parser.parse('1 May 2024 10:20') }}", "2024-05-01 10:20:00"),
    ("parsedate.isoparse", "{{ utils.parsedate.isoparse('2024-05-01T10:20:30Z') }}", "2024-05-01 10:20:30+00:00"),
    ("parsedate.parse", "{{ utils.parsedate.parse('2024-05-01 10:00').isoformat() }}", "2024-05-01T10:00:00"),
    ("path.normpath", "{{ utils.path.normpath(utils.path.dirname(key) ~ '/../x') }}", "py/2024/x"),
    ("path.isabs", "{{ utils.path.isabs(key) }}|{{ utils.path.isabs('/' ~ key) }}", "False|True"),
    ("path.commonprefix", "{{ utils.path.commonprefix([key, 'py/2023']) }}", "py/202"),
    ("path.basename", "{{ utils.path.basename(key) }}", "data file.csv"),
    ("path.splitext", "{{ utils.path.splitext(key)[1] }}", ".csv"),
    ("path.join", "{{ utils.path.join('a', 'b', key) }}", "a/b/py/2024/05/data file.csv"),
    ("uuid.hex", "{{ utils.uuid().hex | length }}", "32"),
    ("uuid.version", "{{ utils.uuid().version }}", "4"),
    ("uuid.str", "{{ utils.uuid() | string | length }}", "36"),
    ("s3bucket", "{{ utils.s3bucket('s3://' ~ bucket ~ '/' ~ key) }}", "data-bkt"),
    ("s3key", "{{ utils.s3key('s3://' ~ bucket ~ '/' ~ key) }}", "py/2024/05/data file.csv"),
    ("info.size", "{{ info.size }}", "2048"),
    ("info.source_ip", "{{ info.source_ip }}", "10.200.240.5"),
    ("info.event_type", "{{ info.event_type.split(':')[0] }}", "ObjectCreated"),
    ("info.aws_region", "{{ info.aws_region }}", "ap-southeast-2"),
    ("event", "{{ event.eventName }}", "ObjectCreated:Put"),
    ("dt.str", "{{ info.event_time }}", "2024-05-01 10:20:30.123000+00:00"),
    ("dt.date", "{{ info.event_time.date() }}", "2024-05-01"),
    ("dt.time", "{{ info.event_time.time() }}", "10:20:30.123000"),
    ("dt.replace", "{{ info.event_time.replace(day=9, microsecond=0) }}", "2024-05-09 10:20:30+00:00"),
    ("dt.tzname", "{{ info.event_time.tzname() }}", "UTC"),
    ("dt.weekday", "{{ info.event_time.weekday() }}|{{ info.event_time.isoweekday() }}", "2|3"),
    ("dt.isocalendar", "{{ info.event_time.isocalendar()[1] }}", "18"),
    ("dt.minus.timedelta", "{{ info.event_time - utils.timedelta(days=1) }}", "2024-04-30 10:20:30.123000+00:00"),
    ("dt.minus.dt", "{{ info.event_time - info.event_time.replace(hour=0, minute=0, second=0, microsecond=0) }}", "10:20:30.123000"),
    ("dt.isoformat", "{{ info.event_time.isoformat() }}", "2024-05-01T10:20:30.123000+00:00"),
    ("dt.timestamp", "{{ info.event_time.timestamp() }}", "1714558830.123"),
    ("dt.attributes", "{{ info.event_time.year }}-{{ info.event_time.month }}-{{ info.event_time.day }} {{ info.event_time.hour }}:{{ info.event_time.minute }}:{{ info.event_time.second }}.{{ info.event_time.microsecond }}", "2024-5-1 10:20:30.123000"),
    ("dt.astimezone", "{{ info.event_time.astimezone(utils.dateutil.tz.tzoffset('AEST', 36000)).isoformat() }}", "2024-05-01T20:20:30.123000+10:00"),
    ("dt.compare", "{{ info.event_time > utils.datetime(2024, 1, 1, tzinfo=info.event_time.tzinfo) }}", "True"),
    ("strftime.date", "{{ info.event_time.strftime('%a %A %w %d %b %B %m %y %Y %j %U %W') }}", "Wed Wednesday 3 01 May May 05 24 2024 122 17 18"),
    ("strftime.time", "{{ info.event_time.strftime('%H %I %p %M %S %f %z %Z %%') }}", "10 10 AM 20 30 123000 +0000 UTC %"),
    ("strftime.locale", "{{ info.event_time.strftime('%c|%x|%X') }}", "Wed May  1 10:20:30 2024|05/01/24|10:20:30"),
    ("strftime.iso", "{{ info.event_time.strftime('%G-W%V-%u') }}", "2024-W18-3"),
    ("strftime.padding", "{{ info.event_time.strftime('%-d/%-m %e') }}", "1/5  1"),
    ("f.abs", "{{ -3 | abs }}", "3"),
    ("f.attr", "{{ info.event_time | attr('year') }}", "2024"),
    ("f.batch", "{{ [1, 2, 3] | batch(2) | list }}", "[[1, 2], [3]]"),
    ("f.capitalize", "{{ 'hELLO' | capitalize }}", "Hello"),
    ("f.center", "{{ 'ab' | center(8) }}|", "   ab   |"),
    ("f.count", "{{ key | count }}", "24"),
    ("f.default", "{{ missing | default('dflt') }}", "dflt"),
    ("f.dictsort", "{{ {'b': 1, 'a': 2} | dictsort | map('first') | join }}", "ab"),
    ("f.escape", "{{ '<a>' | escape }}", "&lt;a&gt;"),
    ("f.filesizeformat", "{{ info.size | filesizeformat }}|{{ 3000000 | filesizeformat(true) }}", "2.0 kB|2.9 MiB"),
    ("f.first", "{{ key.split('/') | first }}", "py"),
    ("f.float", "{{ '2.50' | float }}", "2.5"),
    ("f.format", "{{ '%s-%03d' | format('a', 7) }}", "a-007"),
    ("f.groupby", "{{ [{'k': 1, 'v': 'a'}, {'k': 1, 'v': 'b'}] | groupby('k') | map(attribute='list') | list }}", "[[{'k': 1, 'v': 'a'}, {'k': 1, 'v': 'b'}]]"),
    ("f.indent", "{{ 'a\nb\nc' | indent(2, first=true) | replace('\n', '|') }}", "  a|  b|  c"),
    ("f.int", "{{ '42' | int + 1 }}", "43"),
    ("f.items", "{{ {'a': 1} | items | map('last') | list }}", "[1]"),
    ("f.join", "{{ key.split('/') | join('|') }}", "py|2024|05|data file.csv"),
    ("f.last", "{{ key.split('/') | last }}", "data file.csv"),
    ("f.length", "{{ key | length }}", "24"),
    ("f.list", "{{ 'abc' | list }}", "['a', 'b', 'c']"),
    ("f.lower", "{{ 'ABC' | lower }}", "abc"),
    ("f.map", "{{ ['a', 'b'] | map('upper') | join }}", "AB"),
    ("f.max", "{{ [3, 9, 2] | max }}|{{ [3, 9, 2] | min }}", "9|2"),
    ("f.pprint", "{{ {'a': [1, 2]} | pprint }}", "{'a': [1, 2]}"),
    ("f.reject", "{{ [1, 2, 3, 4] | reject('odd') | list }}", "[2, 4]"),
    ("f.rejectattr", "{{ [{'a': 0}, {'a': 1}] | rejectattr('a') | list }}", "[{'a': 0}]"),
    ("f.replace", "{{ key | replace(' ', '_') }}", "py/2024/05/data_file.csv"),
    ("f.reverse", "{{ 'abc' | reverse }}", "cba"),
    ("f.round", "{{ 2.567 | round(2) }}|{{ 2.5 | round(0, 'floor') }}", "2.57|2.0"),
    ("f.select", "{{ [1, 2, 3, 4] | select('even') | list }}", "[2, 4]"),
    ("f.selectattr", "{{ [{'a': 0}, {'a': 1}] | selectattr('a') | list }}", "[{'a': 1}]"),
    ("f.slice", "{{ [1, 2, 3] | slice(2) | list }}", "[[1, 2], [3]]"),
    ("f.sort", "{{ [3, 1, 2] | sort(reverse=true) }}", "[3, 2, 1]"),
    ("f.string", "{{ 12 | string ~ 'x' }}", "12x"),
    ("f.striptags", "{{ '<b>bold</b>  text' | striptags }}", "bold text"),
    ("f.sum", "{{ [1, 2, 3] | sum }}", "6"),
    ("f.title", "{{ 'data file' | title }}", "Data File"),
    ("f.tojson", "{{ [info.size, 1.5, none] | tojson }}", "[2048, 1.5, null]"),
    ("f.trim", "{{ '  x  ' | trim }}|", "x|"),
    ("f.truncate", "{{ 'a long sentence of words' | truncate(12) }}", "a long..."),
    ("f.unique", "{{ [1, 2, 1] | unique | list }}", "[1, 2]"),
    ("f.upper", "{{ key | upper }}", "PY/2024/05/DATA FILE.CSV"),
    ("f.urlencode", "{{ key | urlencode }}", "py/2024/05/data%20file.csv"),
    ("f.wordcount", "{{ 'a b c' | wordcount }}", "3"),
    ("f.wordwrap", "{{ 'aaa bbb ccc' | wordwrap(7) | replace('\n', '|') }}", "aaa bbb|ccc"),
    ("f.xmlattr", "{{ {'id': 'x', 'class': 'a b'} | xmlattr | length }}", "19"),
    ("s.capitalize", "{{ 'hello World'.capitalize() }}", "Hello world"),
    ("s.casefold", "{{ 'ABC'.casefold() }}", "abc"),
    ("s.center", "{{ 'ab'.center(6, '*') }}", "**ab**"),
    ("s.count", "{{ key.count('/') }}", "3"),
    ("s.endswith", "{{ key.endswith(('.csv', '.txt')) }}", "True"),
    ("s.expandtabs", "{{ 'a\tb'.expandtabs(4) }}", "a   b"),
    ("s.find", "{{ key.find('2024') }}|{{ key.rfind('/') }}", "3|10"),
    ("s.format", "{{ '{0:>8}|{1:,}|{0!r}'.format('ab', 1234567) }}", "      ab|1,234,567|'ab'"),
    ("s.format_map", "{{ '{k}'.format_map({'k': 'v'}) }}", "v"),
    ("s.index", "{{ key.index('/') }}|{{ key.rindex('/') }}", "2|10"),
    ("s.is", "{{ '12'.isdigit() }}{{ 'ab'.isalpha() }}{{ 'a1'.isalnum() }}{{ 'ab'.islower() }}{{ 'AB'.isupper() }}{{ ' '.isspace() }}{{ 'A B'.istitle() }}{{ '12'.isnumeric() }}{{ '12'.isdecimal() }}{{ 'x_1'.isidentifier() }}", "TrueTrueTrueTrueTrueTrueTrueTrueTrueTrue"),
    ("s.join", "{{ '-'.join(key.split('/')) }}", "py-2024-05-data file.csv"),
    ("s.ljust", "{{ 'ab'.ljust(5, '.') }}{{ 'ab'.rjust(5, '.') }}", "ab......ab"),
    ("s.lower", "{{ 'AbC'.lower() }}{{ 'AbC'.upper() }}{{ 'AbC'.swapcase() }}", "abcABCaBc"),
    ("s.strip", "{{ 'xxaxx'.strip('x') }}{{ 'xxaxx'.lstrip('x') }}{{ 'xxaxx'.rstrip('x') }}", "aaxxxxa"),
    ("s.partition", "{{ key.partition('/') }}", "('py', '/', '2024/05/data file.csv')"),
    ("s.rpartition", "{{ key.rpartition('/')[2] }}", "data file.csv"),
    ("s.removeprefix", "{{ key.removeprefix('py/') }}|{{ key.removesuffix('.csv') }}", "2024/05/data file.csv|py/2024/05/data file"),
    ("s.replace", "{{ key.replace('/', '.', 2) }}", "py.2024.05/data file.csv"),
    ("s.rsplit", "{{ key.rsplit('/', 1) }}", "['py/2024/05', 'data file.csv']"),
    ("s.split", "{{ key.split('/')[1:3] }}", "['2024', '05']"),
    ("s.splitlines", "{{ 'a\nb'.splitlines() }}", "['a', 'b']"),
    ("s.startswith", "{{ key.startswith('py/') }}", "True"),
    ("s.title", "{{ 'data file'.title() }}", "Data File"),
    ("s.zfill", "{{ '42'.zfill(5) }}|{{ '-42'.zfill(5) }}", "00042|-0042"),
    ("pct.d", "{{ '%05d' % info.size }}", "02048"),
    ("pct.tuple", "{{ '%s/%s' % (bucket, key) }}", "data-bkt/py/2024/05/data file.csv"),
    ("pct.float", "{{ '%.2f%%' % 12.345 }}", "12.35%"),
    ("pct.dict", "{{ '%(b)s:%(s)x' % {'b': bucket, 's': info.size} }}", "data-bkt:800"),
    ("pct.repr", "{{ '%r' % key }}", "'py/2024/05/data file.csv'"),
];

/// One invocation of the shipped function through the Runtime API renders
/// every row of `TEMPLATES` as one trigger's parameters.
#[tokio::test]
async fn templates_render_as_upstream_through_the_runtime_api() {
    let realm = Realm::new().await;
    let templates: serde_json::Map<String, Value> = TEMPLATES
        .iter()
        .map(|(name, template, _)| (name.to_string(), json!(template)))
        .collect();
    realm
        .trigger("py", "py", json!("load"), json!({"parameters": templates}))
        .await;
    let event = direct(vec![put("py/2024/05/data+file.csv")]);
    let run = invoke(LambdaFunction::S3trigger, REALM, &realm.moto, &event, &[]).unwrap();
    let got = answer(&run).unwrap_or_else(|e| panic!("{e}\n{}", run.output));
    assert_eq!(
        answered_counts(got),
        answered_counts(serde_json::to_value(summary(1, 1, 0, 0, 0)).unwrap()),
        "{}",
        run.output
    );
    let messages = realm.drain("core").await;
    assert_eq!(messages.len(), 1, "{messages:?}");
    let differ: Vec<String> = TEMPLATES
        .iter()
        .filter(|(name, _, jinja2)| messages[0]["parameters"][name] != json!(jinja2))
        .map(|(name, template, jinja2)| {
            let got = &messages[0]["parameters"][name];
            format!("{name}: {template}\n  Jinja2: {jinja2:?}\n  ours:   {got}")
        })
        .collect();
    assert!(
        differ.is_empty(),
        "{} of {} rows differ:\n{}",
        differ.len(),
        TEMPLATES.len(),
        differ.join("\n")
    );
}
