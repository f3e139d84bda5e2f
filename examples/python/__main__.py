"""AuroraIamProxy from a Python program, in a VPC the program already has.

`pulumi package add <this repository's git URL>` generates the `pulumi_aurora_iam_proxy` SDK used here.
"""
import pulumi
import pulumi_aws as aws
import pulumi_aurora_iam_proxy as aurora

config = pulumi.Config()
aws_config = pulumi.Config("aws")

db = aurora.AuroraIamProxy(
    "orders-db",
    environment="dev",
    region=aws_config.require("region"),
    name="orders",
    network=aurora.NetworkOptionsArgs(
        existing_vpc=aurora.ExistingVpcArgs(
            vpc_id=config.require("vpcId"),
            private_subnet_ids=config.require_object("privateSubnetIds"),
            isolated_subnet_ids=config.require_object("isolatedSubnetIds"),
        ),
    ),
    access=aurora.AccessOptionsArgs(
        users=[
            aurora.DatabaseUserArgs(name="app_user", access=aurora.AccessProfile.READWRITE),
            aurora.DatabaseUserArgs(name="app_reader", access=aurora.AccessProfile.READONLY),
        ],
    ),
    alarms=aurora.AlarmsOptionsArgs(
        subscriptions=[aurora.AlarmSubscriptionArgs(protocol=aurora.SubscriptionProtocol.EMAIL, endpoint=config.require("alarmEmail"))],
    ),
    tags=aurora.TagsOptionsArgs(application="orders", owner="platform-team", cost_center="1234"),
)

# The service's role may connect as app_user through this proxy only.
api_role = aws.iam.Role(
    "orders-api",
    assume_role_policy='{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"ecs-tasks.amazonaws.com"},"Action":"sts:AssumeRole"}]}',
)
aws.iam.RolePolicy("orders-api-connect", role=api_role.id, policy=db.connect_policies.apply(lambda p: p["app_user"]))

pulumi.export("proxyEndpoint", db.proxy_endpoint)
pulumi.export("port", db.port)
pulumi.export("clientSecurityGroupId", db.client_security_group_id)
