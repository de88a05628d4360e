"""Scaling and cost simulator: replays a request trace against the scaling policy a template would deploy.

`template` turns a synthesized template into a `ScalingModel`, `anchors` builds the published policies we
compare against, `engine` replays a trace through SageMaker's queue, CloudWatch's one-minute metrics and
alarms and Application Auto Scaling, and `report`/`plot` present the outcome. The CLI is `llm_async_tools.simulate`.
"""
