"""Batch jobs: the OpenAI Batch API (files and batches) on the inference API, a Step Functions state machine that submits a
batch's lines to the async endpoint, and the tracker that records each line's outcome from the endpoint's topics.

The contract between these parts is docs/design/batch-jobs.md; the Lambdas' code is `batch_jobs` in the API's asset.
"""

from __future__ import annotations

import dataclasses
import json

import aws_cdk as cdk
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_lambda_event_sources as event_sources
from aws_cdk import aws_sns_subscriptions as subscriptions
from aws_cdk import aws_sqs as sqs
from aws_cdk import aws_stepfunctions as sfn
from constructs import Construct

from llm_async.api.construct import InferenceApi, custom_metric
from llm_async.api.rest_api import add_lambda_route
from llm_async.api.runtime.batch_jobs import contract
from llm_async.api.runtime.batch_jobs.contract import BatchApiEnvironment, BatchEnvironment
from llm_async.api.runtime.inference_api.contract import EndpointSettings, RequestLimits
from llm_async.batch import workflow
from llm_async.batch.config import BatchConfig, poll_interval_s
from llm_async.batch.functions import BatchFunctions, FunctionSpec
from llm_async.compliance import findings
from llm_async.endpoint.construct import AsyncEndpoint
from llm_async.endpoint.scaling import ScaleToZero
from llm_async.network.construct import PrivateNetwork
from llm_async.notifications.topics import NotificationTopics
from llm_async.storage.bucket import BATCHES_PREFIX, FILES_PREFIX, INPUT_PREFIX, PayloadBucket
from llm_async.storage.keys import RotatingKey
from llm_async.storage.log_groups import LogGroups

TRACKER_BATCH_SIZE = 10
# The tracker's pollers at most: notifications arrive at the endpoint's pace, tens a second at the most.
TRACKER_MAX_CONCURRENCY = 10
MAX_RECEIVES_BEFORE_DLQ = 5
# The API's routes (docs/design/batch-jobs.md, "API"): method, path, JSON object body, optional query strings.
ROUTES: tuple[tuple[str, str, bool, tuple[str, ...]], ...] = (
    ("POST", "/files", True, ()),
    ("GET", "/files/{file_id}/content", False, ()),
    ("POST", "/batches", True, ()),
    ("GET", "/batches", False, ("limit", "after")),
    ("GET", "/batches/{batch_id}", False, ()),
    ("POST", "/batches/{batch_id}/cancel", False, ()),
)

_BY_STATE_MACHINE = (
    "Step Functions invokes this function synchronously as a state of the batch state machine: a failure is retried"
    " by the state's Retry and then caught (MarkFailed marks the batch failed); a dead-letter queue only receives"
    " failed asynchronous invocations."
)
_BY_API = (
    "API Gateway invokes this function synchronously; a dead-letter queue only receives failed"
    " asynchronous invocations, and every failure here is answered to the caller as an HTTP error."
)
_BY_QUEUE = (
    "An SQS event source mapping invokes this function: a message it fails on returns to the tracker queue and,"
    f" after {MAX_RECEIVES_BEFORE_DLQ} receives, moves to the queue's own dead-letter queue, which pages."
)
_STATE_MACHINE_BOUND = (
    "Step Functions bounds its concurrency: one invocation per running batch, or per running chunk (the Distributed"
    " Map's MaxConcurrency, batch.max_concurrency); reserving executions needs 100 unreserved left in the account."
)
_API_BOUND = (
    "The API stage's throttle (api.throttle_rate_per_s, api.throttle_burst) bounds its invocations; reserving"
    " executions needs 100 unreserved left in the account, more than a new account's quota."
)
_QUEUE_BOUND = (
    f"The event source mapping's MaximumConcurrency ({TRACKER_MAX_CONCURRENCY}) bounds its concurrent executions;"
    " reserving executions needs 100 unreserved left in the account."
)


def _minutes(minutes: int) -> cdk.Duration:
    return cdk.Duration.minutes(minutes)


class BatchJobs(Construct):
    """POST /files, POST /batches and the other batch routes on `api`; the state machine that runs a batch; the tracker."""

    def __init__(
        self,
        scope: Construct,
        id_: str,
        *,
        name: str,
        config: BatchConfig,
        max_concurrency: int,
        api: InferenceApi,
        endpoint: AsyncEndpoint,
        scaling: ScaleToZero,
        payloads: PayloadBucket,
        topics: NotificationTopics,
        logs: LogGroups,
        removal_policy: cdk.RemovalPolicy,
        network: PrivateNetwork | None = None,
    ) -> None:
        """`name`: the deployment's name (`endpoint.name_prefix`): the state machine is `<name>-batches`.
        `max_concurrency`: chunks submitted at once (`DeploymentConfig.batch_max_concurrency`).
        `api`: the inference API, whose routes these join and whose request limits every line is checked against."""
        super().__init__(scope, id_)
        self.config = config
        self.payloads = payloads
        # The endpoint and the request limits exactly as the inference API's function has them (both environments
        # inherit EndpointSettings and RequestLimits): every line is checked as POST /invocations checks a request.
        shared = (*dataclasses.fields(EndpointSettings), *dataclasses.fields(RequestLimits))
        self.environment = BatchEnvironment(
            **{field.name: getattr(api.environment, field.name) for field in shared},
            max_file_bytes=config.max_file_bytes,
            max_lines=config.max_lines,
            completion_windows=config.completion_windows,
            metrics_namespace=api.environment.metrics_namespace,
        )
        functions = BatchFunctions(self, "Functions", logs=logs, environment=self.environment.render(), network=network)
        self.functions = functions
        steps = workflow.StepFunctions(
            validate=functions.add(
                "Validate", FunctionSpec("batch_jobs.steps.validate", 1024, _minutes(15), _BY_STATE_MACHINE, _STATE_MACHINE_BOUND)
            ),
            wake=functions.add(
                "Wake", FunctionSpec("batch_jobs.steps.wake", 256, cdk.Duration.seconds(30), _BY_STATE_MACHINE, _STATE_MACHINE_BOUND)
            ),
            submit_chunk=functions.add(
                "SubmitChunk",
                FunctionSpec("batch_jobs.steps.submit_chunk", 256, _minutes(5), _BY_STATE_MACHINE, _STATE_MACHINE_BOUND),
            ),
            check_chunk=functions.add(
                "CheckChunk",
                FunctionSpec("batch_jobs.steps.check_chunk", 256, _minutes(2), _BY_STATE_MACHINE, _STATE_MACHINE_BOUND),
            ),
            finalize=functions.add(
                "Finalize", FunctionSpec("batch_jobs.steps.finalize", 1024, _minutes(15), _BY_STATE_MACHINE, _STATE_MACHINE_BOUND)
            ),
            mark_failed=functions.add(
                "MarkFailed",
                FunctionSpec("batch_jobs.steps.mark_failed", 256, cdk.Duration.seconds(30), _BY_STATE_MACHINE, _STATE_MACHINE_BOUND),
            ),
        )
        self.steps = steps
        self._grant_steps(steps, endpoint=endpoint, scaling=scaling, payloads=payloads)
        self.state_machine = self._state_machine(name, steps, payloads, logs, max_concurrency)

        # The API's environment is every batch Lambda's plus the state machine it starts.
        api_environment = BatchApiEnvironment(
            **dataclasses.asdict(self.environment), state_machine_arn=self.state_machine.state_machine_arn
        )
        self.api_function = functions.add(
            "Api",
            FunctionSpec("batch_jobs.api.lambda_handler", 256, cdk.Duration.seconds(15), _BY_API, _API_BOUND),
            environment=api_environment.render(),
        )
        # Files: the record, and the presigned upload and download, which S3 authorizes as this role. Batches: the
        # record, the caller's marker and the cancel marker; both of the first removed again if StartExecution fails.
        payloads.grant_prefix(self.api_function, FILES_PREFIX, read=True, write=True)
        payloads.grant_prefix(self.api_function, BATCHES_PREFIX, read=True, write=True, delete=True)
        payloads.grant_list(self.api_function)
        self.state_machine.grant_start_execution(self.api_function)
        # On the inference API: SigV4, throttled and logged by the same stage, errors in the same shape.
        self.routes = [
            add_lambda_route(api.rest_api, method, path, self.api_function, json_object_body=body, query_strings=queries)
            for method, path, body, queries in ROUTES
        ]
        self._api = api

        self.tracker_queue_key = RotatingKey(
            self, "QueueKey", description="llm-async: the batch tracker's queue", removal_policy=removal_policy
        ).key
        self.tracker_dead_letters, self.tracker_queue = self._tracker_queues(removal_policy)
        self.delivery_dead_letters = self._dead_letters(
            "DeliveryDeadLetters",
            "the SNS subscriptions of the batch tracker's queue: notifications SNS could not deliver to it end here",
            removal_policy,
        )
        for topic in (topics.success_topic, topics.error_topic):
            # SNS envelopes (not raw delivery): the tracker reads the topic's message from each one's Message.
            topic.add_subscription(
                subscriptions.SqsSubscription(self.tracker_queue, dead_letter_queue=self.delivery_dead_letters)
            )
        tracker_timeout = cdk.Duration.seconds(30)
        self.tracker = functions.add(
            "Tracker", FunctionSpec("batch_jobs.tracker.lambda_handler", 256, tracker_timeout, _BY_QUEUE, _QUEUE_BOUND)
        )
        source = event_sources.SqsEventSource(
            self.tracker_queue,
            batch_size=TRACKER_BATCH_SIZE,
            report_batch_item_failures=True,
            max_concurrency=TRACKER_MAX_CONCURRENCY,
        )
        self.tracker.add_event_source(source)
        findings.acknowledge(
            self.tracker.node.find_child(f"SqsEventSource:{cdk.Names.node_unique_id(self.tracker_queue.node)}"),
            "Serverless-LambdaEventSourceMappingDestination",
            "An SQS event source mapping takes no on-failure destination (Lambda supports one for stream and Kafka"
            " sources only): a message the tracker fails on returns to the queue and, after"
            f" {MAX_RECEIVES_BEFORE_DLQ} receives, moves to the queue's dead-letter queue (its redrive policy), which pages.",
        )
        # The inference's metadata (caller, batch-id, batch-line) tells a batch line from any other inference.
        payloads.grant_prefix(self.tracker, INPUT_PREFIX, read=True)
        payloads.grant_prefix(self.tracker, BATCHES_PREFIX, read=True, write=True)
        payloads.grant_list(self.tracker)
        self.states_endpoint = None if network is None else self._states_endpoint(network)

    # --- grants ---

    def _grant_steps(
        self, steps: workflow.StepFunctions, *, endpoint: AsyncEndpoint, scaling: ScaleToZero, payloads: PayloadBucket
    ) -> None:
        # Every step reads and updates the batch record and its line outcomes; a missing one must read as 404.
        for function in (steps.validate, steps.submit_chunk, steps.check_chunk, steps.finalize, steps.mark_failed):
            payloads.grant_prefix(function, BATCHES_PREFIX, read=True, write=True)
            payloads.grant_list(function)
        payloads.grant_prefix(steps.validate, FILES_PREFIX, read=True)
        # inference_api.wake.Waker: DescribeEndpoint, SetAlarmState on the wake alarm, and its once-a-minute
        # election marker under input/.wake/.
        endpoint.grant_describe(steps.wake)
        scaling.grant_wake(steps.wake)
        payloads.grant_prefix(steps.wake, INPUT_PREFIX, write=True)
        # Each line as the API submits a request: input/<inference id>.json, written conditionally (the lock), deleted
        # again when the invoke is throttled so that the retry submits it, and its invocation record.
        payloads.grant_submit_requests(steps.submit_chunk)
        endpoint.grant_invoke_async(steps.submit_chunk)
        # A line with neither outcome nor request, or one older than its TTL, is settled failed: HEAD of its request.
        payloads.grant_prefix(steps.check_chunk, INPUT_PREFIX, read=True)
        # The output file's response bodies and the error file's failure reasons, then the two files themselves.
        payloads.grant_read_results(steps.finalize)
        payloads.grant_prefix(steps.finalize, FILES_PREFIX, write=True)

    def grant_invoke(self, grantee: iam.IGrantable) -> iam.Grant:
        """execute-api:Invoke on the batch routes of the deployed stage only."""
        return iam.Grant.add_to_principal(
            grantee=grantee,
            actions=["execute-api:Invoke"],
            resource_arns=[self._api.method_arn(method, path) for method, path, _, _ in ROUTES],
        )

    # --- the state machine ---

    def _state_machine(
        self, name: str, steps: workflow.StepFunctions, payloads: PayloadBucket, logs: LogGroups, max_concurrency: int
    ) -> sfn.StateMachine:
        poll = poll_interval_s(self.config.longest_window_s)
        # Step Functions' vended logs: a group under /aws/vendedlogs/ keeps the account's CloudWatch Logs resource
        # policy from growing by a statement per group (AWS's advice for Step Functions logging).
        self.state_machine_logs = logs.create(self, "StateMachineLogs", name=f"/aws/vendedlogs/states/{name}-batches")
        state_machine = sfn.StateMachine(
            self,
            "StateMachine",
            state_machine_type=sfn.StateMachineType.STANDARD,
            definition_body=sfn.DefinitionBody.from_chainable(
                workflow.definition(
                    self,
                    steps=steps,
                    payloads=payloads,
                    chunk_lines=self.config.chunk_lines,
                    max_concurrency=max_concurrency,
                    poll_interval=cdk.Duration.seconds(poll),
                )
            ),
            # A batch runs until its completion window ends, then finalizes; past that it is stuck and times out.
            timeout=cdk.Duration.seconds(self.config.run_s),
            tracing_enabled=True,
            # ALL events, without their data: states' inputs carry the batch's prompts, which stay in S3 under the
            # payload key and expire with it.
            logs=sfn.LogOptions(destination=self.state_machine_logs, level=sfn.LogLevel.ALL, include_execution_data=False),
        )
        workflow.grant_read_items(payloads, state_machine)
        self._acknowledge_state_machine(state_machine, steps)
        self._substitute_references(
            state_machine,
            {
                **{f"{f.node.id}FunctionArn": f.function_arn for f in dataclasses.astuple(steps)},
                "PayloadBucketName": payloads.bucket.bucket_name,
                "Partition": cdk.Aws.PARTITION,
            },
        )
        return state_machine

    def _substitute_references(self, state_machine: sfn.StateMachine, substitutions: dict[str, str]) -> None:
        """The definition as one JSON string with `${Name}` placeholders and DefinitionSubstitutions, instead of the
        Fn::Join CDK writes: cfn-lint skips a DefinitionString that is a function, and checks a string against Step
        Functions' schema (E3601). CloudFormation substitutes the same values; the role's grants are the L2's."""
        cfn = state_machine.node.default_child
        assert isinstance(cfn, sfn.CfnStateMachine)
        stack = cdk.Stack.of(self)
        by_reference = {json.dumps(stack.resolve(value), sort_keys=True): name for name, value in substitutions.items()}
        resolved = stack.resolve(cfn.definition_string)
        parts = resolved["Fn::Join"][1] if isinstance(resolved, dict) else [resolved]
        text, used = "", {}
        for part in parts:
            if isinstance(part, str):
                text += part
                continue
            name = by_reference.get(json.dumps(part, sort_keys=True))
            if name is None:
                raise ValueError(f"the batch state machine's definition refers to {part}, which has no substitution")
            text += f"${{{name}}}"
            used[name] = substitutions[name]
        cfn.definition_string = text
        cfn.definition_substitutions = used or None

    def _acknowledge_state_machine(self, state_machine: sfn.StateMachine, steps: workflow.StepFunctions) -> None:
        role = state_machine.role
        findings.acknowledge_rule(role, "IAMNoInlinePolicy", findings.HIPAA_NIST_PCI, findings.INLINE_POLICY_EVIDENCE)
        findings.acknowledge(
            role,
            "AwsSolutions-IAM5[Resource::*]",
            "CloudWatch Logs' log-delivery actions (CreateLogDelivery, GetLogDelivery, UpdateLogDelivery,"
            " DeleteLogDelivery, ListLogDeliveries, PutResourcePolicy, DescribeResourcePolicies, DescribeLogGroups),"
            " which Step Functions logging needs, and X-Ray's PutTraceSegments, PutTelemetryRecords,"
            " GetSamplingRules and GetSamplingTargets, added by tracing, have no resource-level permissions.",
        )
        for function in (steps.validate, steps.wake, steps.submit_chunk, steps.check_chunk, steps.finalize, steps.mark_failed):
            findings.acknowledge_wildcard(
                role,
                f"{function.function_arn}:*",
                f"lambda:InvokeFunction on the versions and aliases of one function, {function.node.id}, a state of this"
                " state machine (CDK's LambdaInvoke grant).",
            )
        distributed_map_policy = state_machine.node.find_child("DistributedMapPolicy")
        findings.acknowledge_rule(
            distributed_map_policy,
            "IAMNoInlinePolicy",
            findings.HIPAA_NIST_PCI,
            "CDK's policy for the Distributed Map: it lets this state machine start, describe, stop and redrive its own"
            " child executions, and is created and deleted with the state machine's role.",
        )
        stack = cdk.Stack.of(self)
        name = cdk.Arn.split(state_machine.state_machine_arn, cdk.ArnFormat.COLON_RESOURCE_NAME).resource_name
        for resource_name, what in (
            (f"{name}:*", "states:DescribeExecution and states:StopExecution on this state machine's own executions"),
            (f"{name}/{workflow.MAP_LABEL}:*", "states:RedriveExecution on the child executions of its Distributed Map"),
        ):
            arn = stack.format_arn(
                service="states", resource="execution", resource_name=resource_name, arn_format=cdk.ArnFormat.COLON_RESOURCE_NAME
            )
            findings.acknowledge_wildcard(
                distributed_map_policy,
                arn,
                f"{what}: execution names are batch ids and map run ids, not known in advance.",
            )

    # --- the tracker's queue ---

    def _dead_letters(self, id_: str, of_what: str, removal_policy: cdk.RemovalPolicy) -> sqs.Queue:
        """A dead-letter queue under the tracker queue's key: SNS may use that key for the two topics (the grant
        SqsSubscription adds to the key's policy), so it can deliver to this queue too."""
        queue = sqs.Queue(
            self,
            id_,
            encryption=sqs.QueueEncryption.KMS,
            encryption_master_key=self.tracker_queue_key,
            enforce_ssl=True,
            retention_period=cdk.Duration.days(14),
            removal_policy=removal_policy,
        )
        evidence = f"This queue is the dead-letter queue of {of_what}, kept 14 days, and pages (BatchTrackerDeadLetters)."
        findings.acknowledge(queue, "AwsSolutions-SQS3", evidence)
        findings.acknowledge_rule(queue, "SQSRedrivePolicy", (findings.SERVERLESS,), evidence)
        return queue

    def _tracker_queues(self, removal_policy: cdk.RemovalPolicy) -> tuple[sqs.Queue, sqs.Queue]:
        dead_letters = self._dead_letters(
            "TrackerDeadLetters",
            f"the batch tracker's queue: notifications the tracker failed on {MAX_RECEIVES_BEFORE_DLQ} times end here",
            removal_policy,
        )
        queue = sqs.Queue(
            self,
            "TrackerQueue",
            encryption=sqs.QueueEncryption.KMS,
            encryption_master_key=self.tracker_queue_key,
            enforce_ssl=True,
            # Lambda's advice for an SQS event source: six times the function's timeout (30 s).
            visibility_timeout=cdk.Duration.seconds(180),
            dead_letter_queue=sqs.DeadLetterQueue(max_receive_count=MAX_RECEIVES_BEFORE_DLQ, queue=dead_letters),
            removal_policy=removal_policy,
        )
        return dead_letters, queue

    def _states_endpoint(self, network: PrivateNetwork) -> ec2.InterfaceVpcEndpoint | None:
        """VPC mode: the batch API starts executions from the private subnets, which reach Step Functions only
        through an interface endpoint (the network's own endpoints serve what the inference API calls). An existing
        VPC whose endpoints its owner provides (`create_endpoints=False`) must provide this one too."""
        if network.endpoint_security_group is None:
            return None
        return ec2.InterfaceVpcEndpoint(
            self,
            "StatesEndpoint",
            vpc=network.vpc,
            service=ec2.InterfaceVpcEndpointAwsService.STEP_FUNCTIONS,
            subnets=network.subnet_selection,
            # The network's endpoint security group admits HTTPS from the Lambdas' security group only.
            security_groups=[network.endpoint_security_group],
            open=False,
            private_dns_enabled=True,
        )

    # --- metrics ---

    def metric_executions_failed(self, *, period: cdk.Duration = cdk.Duration.minutes(5)) -> cloudwatch.IMetric:
        """Executions that failed or timed out, summed over `period`: a batch that MarkFailed marked failed, or one
        whose run outlived its window and margin (no state marks that one)."""
        return cloudwatch.MathExpression(
            expression="failed + timed_out",
            using_metrics={
                "failed": self.state_machine.metric_failed(period=period, statistic="Sum"),
                "timed_out": self.state_machine.metric_timed_out(period=period, statistic="Sum"),
            },
            label="batch executions failed or timed out",
            period=period,
        )

    def metric_tracker_dead_letters(self, *, period: cdk.Duration = cdk.Duration.minutes(1)) -> cloudwatch.IMetric:
        """Notifications that never had their line's outcome recorded: those the tracker gave up on, and those SNS could
        not deliver to the tracker's queue."""
        return cloudwatch.MathExpression(
            expression="tracker + delivery",
            using_metrics={
                name: queue.metric_approximate_number_of_messages_visible(period=period, statistic="Maximum")
                for name, queue in (("tracker", self.tracker_dead_letters), ("delivery", self.delivery_dead_letters))
            },
            label="notifications in dead-letter queues",
            period=period,
        )

    def metric_lambda_errors(self, *, period: cdk.Duration = cdk.Duration.minutes(5)) -> cloudwatch.IMetric:
        """Unhandled errors and timeouts of every batch Lambda, summed."""
        functions = self.all_functions
        return cloudwatch.MathExpression(
            expression=" + ".join(f"e{index}" for index in range(len(functions))),
            using_metrics={f"e{index}": f.metric_errors(period=period, statistic="Sum") for index, f in enumerate(functions)},
            label="batch Lambda errors",
            period=period,
        )

    def metric_batch(self, metric_name: str, *, period: cdk.Duration, label: str | None = None) -> cloudwatch.Metric:
        """One of the batch Lambdas' custom metrics (`batch_jobs.contract.CUSTOM_METRICS`), summed over `period`."""
        if metric_name not in contract.CUSTOM_METRICS:
            raise ValueError(f"{metric_name} is not one of the batch Lambdas' metrics: {', '.join(contract.CUSTOM_METRICS)}")
        return custom_metric(self.environment.metrics_namespace, self.environment.service_name, metric_name, period=period, label=label)

    @property
    def all_functions(self) -> list[lambda_.Function]:
        steps = self.steps
        return [
            self.api_function, steps.validate, steps.wake, steps.submit_chunk, steps.check_chunk, steps.finalize,
            steps.mark_failed, self.tracker,
        ]  # type: ignore[list-item]
