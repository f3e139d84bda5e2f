// Between deploys (issue: continuous verification): in prod the smoke runs on a schedule and a failed or
// silent run alarms. Without both, a grant changed in a console or an expiring certificate is found by users.
import { StackValidationPolicy } from "@pulumi/policy";
import { METRIC, METRICS_NAMESPACE } from "../../smoke/metrics";
import { asList, environmentConfigSchema, environmentOf, isYes, label, ofType, peek, refersTo, stackProviders } from "../util";
import { usersDeclaringFunctions } from "./access";

const SCHEDULE = "aws:scheduler/schedule:Schedule";
const ALARM = "aws:cloudwatch/metricAlarm:MetricAlarm";

export const smokeScheduledProd: StackValidationPolicy = {
    name: "smoke-scheduled-prod",
    description:
        "In prod, a schedule runs the smoke function between deploys, an alarm on its Pass metric fires on a failed run, and one treats " +
        "missing data as breaching, so a schedule that stopped running alarms too.",
    enforcementLevel: "mandatory",
    severity: "high",
    configSchema: environmentConfigSchema,
    validateStack: (args, report) => {
        if (environmentOf(args, stackProviders(args.resources)) !== "prod") return;
        // The smoke function: one that declares the users it proves (DB_USERS; at a first preview its
        // environment may still be unknown) and sits in the VPC.
        const smokeFunctions = usersDeclaringFunctions(args.resources, { orUnknown: true }).filter(
            (fn) => peek(fn.props, "vpcConfig") !== undefined,
        );
        if (smokeFunctions.length === 0) {
            report("no smoke function in prod (smoke.enabled is false?): nothing proves the data path between deploys; turn the smoke on");
            return;
        }
        const schedules = ofType(args.resources, SCHEDULE).filter((s) =>
            smokeFunctions.some((fn) => isYes(refersTo(s, "target", peek(s.props, "target", "arn"), fn, ["arn"]))),
        );
        if (schedules.length === 0) {
            report(
                `${label(smokeFunctions[0])}: no aws.scheduler.Schedule runs it in prod; set smoke.schedule (e.g. rate(5 minutes))`,
                smokeFunctions[0].urn,
            );
        }
        const alarms = ofType(args.resources, ALARM).filter(
            (a) => peek(a.props, "namespace") === METRICS_NAMESPACE && peek(a.props, "metricName") === METRIC.pass,
        );
        if (!alarms.some((a) => peek(a.props, "statistic") === "Minimum")) {
            report(
                `no alarm on the Minimum of ${METRICS_NAMESPACE} ${METRIC.pass} in prod: a failing smoke would go unnoticed; declare one (Minimum < 1)`,
            );
        }
        if (!alarms.some((a) => peek(a.props, "treatMissingData") === "breaching")) {
            const seen = alarms
                .map((a) => `${label(a)} treats missing data as ${JSON.stringify(peek(a.props, "treatMissingData") ?? "missing")}`)
                .join("; ");
            report(
                `no alarm on ${METRICS_NAMESPACE} ${METRIC.pass} treats missing data as breaching in prod${seen ? ` (${seen})` : ""}: ` +
                    "a schedule that stops running would go unnoticed; declare one (e.g. SampleCount < 1, missing data breaching)",
            );
        }
    },
};

const TOPIC = "aws:sns/topic:Topic";
const SUBSCRIPTION = "aws:sns/topicSubscription:TopicSubscription";

/**
 * An alarm that notifies a topic nobody subscribes to pages nobody. Advisory: the stack files ship no address
 * (a placeholder would be recreated on every `up` once SNS deletes it unconfirmed), so a prod stack says so.
 */
export const alarmsReachSomeoneProd: StackValidationPolicy = {
    name: "alarms-reach-someone-prod",
    description: "In prod, the topic the alarms notify has at least one subscription (alarms.subscriptions); otherwise alarms go nowhere.",
    enforcementLevel: "advisory",
    severity: "medium",
    configSchema: environmentConfigSchema,
    validateStack: (args, report) => {
        if (environmentOf(args, stackProviders(args.resources)) !== "prod") return;
        const alarms = ofType(args.resources, ALARM);
        const topics = ofType(args.resources, TOPIC).filter((t) =>
            alarms.some((a) =>
                ["alarmActions", "okActions"].some((prop) =>
                    asList(peek(a.props, prop)).some((v) => isYes(refersTo(a, prop, v, t, ["arn"]))),
                ),
            ),
        );
        const subscriptions = ofType(args.resources, SUBSCRIPTION);
        for (const topic of topics) {
            if (subscriptions.some((s) => isYes(refersTo(s, "topic", peek(s.props, "topic"), topic, ["arn"])))) continue;
            report(
                `${label(topic)}: the prod alarms notify this topic, but nothing subscribes to it, so alarms go nowhere; ` +
                    "add alarms.subscriptions (e.g. { protocol: email, endpoint: <your team's address> }) and confirm the e-mail SNS sends",
                topic.urn,
            );
        }
    },
};
