// The pack's policies as a plain array. Importing this module starts nothing, so the policies run
// outside the engine too (policy/run.ts, the tests, `npm start`); policy/index.ts serves them.
import { Policies } from "@pulumi/policy";
import { costWithinBudget } from "./rules/cost";
import { cloudwatchLogGroupCmk, cloudwatchLogGroupRetention, kmsKeyRotation, requiredTags, secretsManagerCmk } from "./rules/data";
import {
    ecsAwsvpcNetworkMode,
    ecsClusterContainerInsights,
    ecsLoggingWithRetention,
    ecsNoHostNamespaces,
    ecsNoPlaintextSecrets,
    ecsNoPrivilegedContainers,
    ecsNoPublicIp,
    ecsReadOnlyRootFilesystem,
    lambdaNoPlaintextSecrets,
} from "./rules/ecs";
import { iamNoAdminManagedPolicies, iamNoWildcardAction, iamRdsConnectScoped, noWildcardPrincipal } from "./rules/iam";
import {
    sgDataPathIngressByReference,
    sgDescriptionValid,
    sgNoInternetIngressDbPorts,
    vpcDefaultSecurityGroupClosed,
    vpcFlowLogsProd,
} from "./rules/network";
import {
    proxyTargetsStackCluster,
    rdsProxyDebugLoggingOffProd,
    rdsProxyPrivateSubnets,
    rdsProxyRequiresIam,
    rdsProxyRequiresTls,
} from "./rules/proxy";
import {
    rdsAutoMinorVersionUpgrade,
    rdsBackupRetention,
    rdsClusterForcesTls,
    rdsCopyTagsToSnapshot,
    rdsDeletionProtectionProd,
    rdsEnhancedMonitoringProd,
    rdsFinalSnapshotProd,
    rdsIamAuthentication,
    rdsManagedMasterPassword,
    rdsMultiAzProd,
    rdsNotPubliclyAccessible,
    rdsPerformanceInsights,
    rdsPostgresqlLogsExported,
    rdsStorageEncryptedCmk,
    rdsSupportedEngineVersion,
} from "./rules/rds";
import { alarmsReachSomeoneProd, smokeScheduledProd } from "./rules/monitoring";
import { connectOnlyServedUsers, ddlUserConnectNamed, readOnlyEndpointNeedsReaders } from "./rules/access";
import { ec2RelayLockedDown, operatorSessionPortForwardOnly, relayRoleReadsNoSecrets } from "./rules/operator";
import { dbSgAdmitsOnlyProxy, ecsExecutionRoleNoDbConnect, proxySgAdmitsOnlyApp, taskRoleConnectScope } from "./rules/stack";

export const PACK_NAME = "aurora-iam-proxy-security";
/** The engine takes the pack's version from policy/package.json. */
export const PACK_VERSION: string = require("./package.json").version;

export const policies: Policies = [
    // RDS cluster and instances
    rdsIamAuthentication,
    rdsStorageEncryptedCmk,
    rdsManagedMasterPassword,
    rdsBackupRetention,
    rdsDeletionProtectionProd,
    rdsFinalSnapshotProd,
    rdsPostgresqlLogsExported,
    rdsCopyTagsToSnapshot,
    rdsNotPubliclyAccessible,
    rdsClusterForcesTls,
    rdsSupportedEngineVersion,
    rdsAutoMinorVersionUpgrade,
    rdsPerformanceInsights,
    rdsMultiAzProd,
    rdsEnhancedMonitoringProd,
    // RDS Proxy
    rdsProxyRequiresTls,
    rdsProxyRequiresIam,
    rdsProxyDebugLoggingOffProd,
    rdsProxyPrivateSubnets,
    // Security groups and VPC
    sgNoInternetIngressDbPorts,
    sgDataPathIngressByReference,
    sgDescriptionValid,
    vpcFlowLogsProd,
    vpcDefaultSecurityGroupClosed,
    // IAM
    iamNoWildcardAction,
    iamRdsConnectScoped,
    iamNoAdminManagedPolicies,
    noWildcardPrincipal,
    // ECS
    ecsAwsvpcNetworkMode,
    ecsNoPublicIp,
    ecsNoPrivilegedContainers,
    ecsReadOnlyRootFilesystem,
    ecsLoggingWithRetention,
    ecsExecutionRoleNoDbConnect,
    ecsNoPlaintextSecrets,
    ecsNoHostNamespaces,
    ecsClusterContainerInsights,
    lambdaNoPlaintextSecrets,
    // Secrets Manager, KMS, logs
    secretsManagerCmk,
    kmsKeyRotation,
    cloudwatchLogGroupRetention,
    cloudwatchLogGroupCmk,
    // The stack as a whole
    dbSgAdmitsOnlyProxy,
    proxySgAdmitsOnlyApp,
    taskRoleConnectScope,
    proxyTargetsStackCluster,
    // Database users (access.users)
    ddlUserConnectNamed,
    connectOnlyServedUsers,
    readOnlyEndpointNeedsReaders,
    // Between deploys
    smokeScheduledProd,
    alarmsReachSomeoneProd,
    // Operator access (Session Manager relay and operator role)
    operatorSessionPortForwardOnly,
    ec2RelayLockedDown,
    relayRoleReadsNoSecrets,
    // Tags (advisory)
    requiredTags,
    // Cost against the stack's budget (advisory unless the budget asks to be enforced)
    costWithinBudget,
];
