"""The upstream approach, for `cargo xtask bench`: each lava Lambda function as
a Python handler on boto3 under a minimal Lambda Runtime API client loop (the
part of a Python runtime a cold start goes through), doing the AWS calls the
Rust function makes for the bench's events. Also the moto set-up both
implementations run against.

    python bench.py setup        create the realm in moto, print {"instance_id": ...}
    python bench.py <function>   serve AWS_LAMBDA_RUNTIME_API as that function
"""

import json
import os
import shlex
import sys
import urllib.parse
import urllib.request
import uuid
from datetime import datetime, timezone

import boto3

REALM = os.environ["LAVA_REALM"]
JOBS = f"lava.{REALM}.jobs"
TRIGGERS = f"lava.{REALM}.s3triggers"
BUCKET = "bench-landing"


def setup():
    ddb, sqs, asg = boto3.client("dynamodb"), boto3.client("sqs"), boto3.client("autoscaling")
    ddb.create_table(
        TableName=JOBS,
        AttributeDefinitions=[{"AttributeName": "job_id", "AttributeType": "S"}],
        KeySchema=[{"AttributeName": "job_id", "KeyType": "HASH"}],
        BillingMode="PAY_PER_REQUEST",
    )
    job = {k: {"S": v} for k, v in
           {"job_id": "bench", "worker": "core", "type": "cmd", "payload": "true"}.items()}
    ddb.put_item(TableName=JOBS, Item={**job, "enabled": {"BOOL": True}})
    ddb.create_table(
        TableName=TRIGGERS,
        AttributeDefinitions=[{"AttributeName": n, "AttributeType": "S"}
                              for n in ("trigger_id", "bucket", "prefix")],
        KeySchema=[{"AttributeName": "trigger_id", "KeyType": "HASH"}],
        GlobalSecondaryIndexes=[{
            "IndexName": "s3trigger-index",
            "KeySchema": [{"AttributeName": "bucket", "KeyType": "HASH"},
                          {"AttributeName": "prefix", "KeyType": "RANGE"}],
            "Projection": {"ProjectionType": "ALL"},
        }],
        BillingMode="PAY_PER_REQUEST",
    )
    ddb.put_item(TableName=TRIGGERS, Item={
        "trigger_id": {"S": "bench"}, "bucket": {"S": BUCKET}, "prefix": {"S": "incoming"},
        "job_id": {"S": "bench"}, "enabled": {"BOOL": True},
    })
    sqs.create_queue(QueueName=f"lava-{REALM}-core")
    group = f"lava-{REALM}-core"
    asg.create_launch_configuration(
        LaunchConfigurationName=group, ImageId="ami-12c6146b", InstanceType="t3.micro")
    asg.create_auto_scaling_group(
        AutoScalingGroupName=group, LaunchConfigurationName=group,
        AvailabilityZones=["us-east-1a"], MinSize=0, MaxSize=1, DesiredCapacity=1)
    groups = asg.describe_auto_scaling_groups(AutoScalingGroupNames=[group])
    print(json.dumps({"instance_id": groups["AutoScalingGroups"][0]["Instances"][0]["InstanceId"]}))


class Dispatcher:
    def __init__(self):
        self.ddb, self.sqs = boto3.client("dynamodb"), boto3.client("sqs")

    def dispatch(self, job_id, parameters=None):
        item = self.ddb.get_item(TableName=JOBS, Key={"job_id": {"S": job_id}})["Item"]
        worker = item["worker"]["S"]
        message = {
            "realm": REALM, "worker": worker, "job_id": job_id, "run_id": str(uuid.uuid4()),
            "ts_dispatch": datetime.now(timezone.utc).replace(microsecond=0).isoformat(),
        }
        if parameters:
            message["parameters"] = parameters
        url = self.sqs.get_queue_url(QueueName=f"lava-{REALM}-{worker}")["QueueUrl"]
        self.sqs.send_message(QueueUrl=url, MessageBody=json.dumps(message))
        return message["run_id"]


def dispatch_handler():
    dispatcher = Dispatcher()

    def handle(event, deadline_ms):
        run_id = dispatcher.dispatch(event["job_id"], event.get("parameters"))
        return {"dispatched": [{"job_id": event["job_id"], "run_id": run_id}], "errors": []}
    return handle


def s3trigger_handler():
    dispatcher = Dispatcher()

    def handle(event, deadline_ms):
        run_ids = []
        for record in event["Records"]:
            bucket = record["s3"]["bucket"]["name"]
            key = urllib.parse.unquote_plus(record["s3"]["object"]["key"])
            parts = key.split("/")
            for prefix in ["/".join(parts[:n]) for n in range(len(parts), 0, -1)] + ["*"]:
                items = dispatcher.ddb.query(
                    TableName=TRIGGERS, IndexName="s3trigger-index",
                    KeyConditionExpression="#b = :b AND #p = :p",
                    ExpressionAttributeNames={"#b": "bucket", "#p": "prefix"},
                    ExpressionAttributeValues={":b": {"S": bucket}, ":p": {"S": prefix}},
                )["Items"]
                if items:
                    break
            for trigger in items:
                if trigger.get("enabled", {}).get("BOOL"):
                    run_ids.append(dispatcher.dispatch(trigger["job_id"]["S"]))
        return {"records": len(event["Records"]), "dispatched": len(run_ids), "run_ids": run_ids}
    return handle


def metrics_handler():
    sqs, asg, cw = boto3.client("sqs"), boto3.client("autoscaling"), boto3.client("cloudwatch")

    def handle(event, deadline_ms):
        prefix = f"lava-{REALM}-"
        depths = {}
        for url in sqs.list_queues(QueueNamePrefix=prefix).get("QueueUrls", []):
            attributes = sqs.get_queue_attributes(
                QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages"])["Attributes"]
            depths[url.rsplit("/", 1)[1]] = int(attributes["ApproximateNumberOfMessages"])
        groups = asg.describe_auto_scaling_groups(AutoScalingGroupNames=list(depths))
        workers, data = {}, []
        for group in groups["AutoScalingGroups"]:
            name = group["AutoScalingGroupName"]
            in_service = sum(i["LifecycleState"] == "InService" for i in group["Instances"])
            if in_service:
                value = round(depths[name] / in_service, 1)
                worker = name[len(prefix):]
                workers[worker] = {"messages": depths[name], "in_service": in_service, "value": value}
                data.append({
                    "MetricName": "WorkerBacklog", "Value": value, "Unit": "None",
                    "Dimensions": [{"Name": "Realm", "Value": REALM},
                                   {"Name": "Worker", "Value": worker}],
                })
        if data:
            cw.put_metric_data(Namespace="Lava", MetricData=data)
        return {"realm": REALM, "namespace": "Lava", "metric": "WorkerBacklog", "workers": workers}
    return handle


def stop_handler():
    """Upstream's stop.py: one AWS-RunShellScript command starting lava-stop."""
    ssm = boto3.client("ssm")

    def handle(event, deadline_ms):
        instance = event["EC2InstanceId"]
        command = " ".join([
            "nohup", "lava-stop", "--no-dispatch", "--signal", "SIGHUP",
            "--instance-id", shlex.quote(instance), "--log @local0", "--level", "info",
            "--wait", "2m", "> /tmp/lava/__stop__ 2>&1 &",
        ])
        response = ssm.send_command(
            InstanceIds=[instance], DocumentName="AWS-RunShellScript", TimeoutSeconds=60,
            Comment="lava-stop", CloudWatchOutputConfig={"CloudWatchOutputEnabled": True},
            Parameters={"commands": [command]},
        )
        return {"document": "AWS-RunShellScript", "command_id": response["Command"]["CommandId"]}
    return handle


def serve(handle):
    """The Runtime API loop: next event, handler, response or error."""
    api = f"http://{os.environ['AWS_LAMBDA_RUNTIME_API']}/2018-06-01/runtime/invocation"
    while True:
        with urllib.request.urlopen(f"{api}/next") as response:
            request_id = response.headers["Lambda-Runtime-Aws-Request-Id"]
            deadline_ms = int(response.headers["Lambda-Runtime-Deadline-Ms"])
            event = json.loads(response.read())
        try:
            path, body = "response", handle(event, deadline_ms)
        except Exception as e:
            path, body = "error", {"errorType": type(e).__name__, "errorMessage": str(e)}
        request = urllib.request.Request(
            f"{api}/{request_id}/{path}", data=json.dumps(body).encode(), method="POST")
        urllib.request.urlopen(request).read()


if __name__ == "__main__":
    if sys.argv[1] == "setup":
        setup()
    else:
        serve(globals()[f"{sys.argv[1]}_handler"]())
