// A deliberately insecure AWS CDK app. Its synthesised CloudFormation (cdk.out/*.template.json)
// is mamori's CDK test fixture: every construct below carries a setting `mamori config scan`
// must report. Never deploy it. Regenerate with ./synth.sh.
'use strict';

const cdk = require('aws-cdk-lib');
const ec2 = require('aws-cdk-lib/aws-ec2');
const eks = require('aws-cdk-lib/aws-eks');
const rds = require('aws-cdk-lib/aws-rds');
const lambda = require('aws-cdk-lib/aws-lambda');
const iam = require('aws-cdk-lib/aws-iam');
const ecs = require('aws-cdk-lib/aws-ecs');
const s3 = require('aws-cdk-lib/aws-s3');
const { KubectlV33Layer } = require('@aws-cdk/lambda-layer-kubectl-v33');

// Fixed account/region so the output does not depend on who runs the synth.
const env = { account: '111111111111', region: 'eu-west-1' };
const app = new cdk.App({ outdir: 'cdk.out' });

// --- Network and data: open security group, public RDS with a literal password, secrets in
// Lambda/ECS environments and EC2 user data, IMDSv1 launch templates, IAM * on *.
const data = new cdk.Stack(app, 'MamoriFixtureData', { env });
const vpc = new ec2.Vpc(data, 'Vpc', { maxAzs: 2, natGateways: 0 });

const bastionSg = new ec2.SecurityGroup(data, 'BastionSg', {
  vpc,
  description: 'SSH from anywhere',
  allowAllIpv6Outbound: true,
});
bastionSg.addIngressRule(ec2.Peer.anyIpv4(), ec2.Port.tcp(22), 'ssh from the internet');
bastionSg.addIngressRule(ec2.Peer.anyIpv6(), ec2.Port.allTraffic(), 'everything over IPv6');
bastionSg.addIngressRule(ec2.Peer.anyIpv4(), ec2.Port.tcp(443), 'https is fine');

const db = new rds.DatabaseInstance(data, 'Db', {
  engine: rds.DatabaseInstanceEngine.postgres({ version: rds.PostgresEngineVersion.VER_16 }),
  vpc,
  vpcSubnets: { subnetType: ec2.SubnetType.PUBLIC },
  publiclyAccessible: true,
  storageEncrypted: false,
  credentials: rds.Credentials.fromPassword('dbadmin', cdk.SecretValue.unsafePlainText('Pr0d-Passw0rd-2024!')),
});
// The database port opened to the world through a CDK-generated SecurityGroupIngress.
db.connections.allowDefaultPortFromAnyIpv4('postgres from anywhere');

// A password glued to a token: CDK renders it as Fn::Join.
new lambda.Function(data, 'Handler', {
  runtime: lambda.Runtime.NODEJS_20_X,
  handler: 'index.handler',
  code: lambda.Code.fromInline('exports.handler = async () => ({ statusCode: 200 });'),
  environment: {
    DB_PASSWORD: 'hunter2-not-a-secret-manager',
    API_TOKEN: cdk.Fn.join('', ['ghp_', 'R4nd0mT0kenV4lue1234567890abcdefABCD', '-', cdk.Aws.REGION]),
    DB_HOST: db.dbInstanceEndpointAddress,
    LOG_LEVEL: 'info',
  },
});

const userData = ec2.UserData.forLinux();
userData.addCommands(
  'export AWS_ACCESS_KEY_ID=AKIAIOSFODNN7EXAMPLE',
  'export AWS_SECRET_ACCESS_KEY=wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY',
  `echo ${db.dbInstanceEndpointAddress} > /etc/db-host`,
);
new ec2.LaunchTemplate(data, 'ImdsV1Template', {
  machineImage: ec2.MachineImage.latestAmazonLinux2023(),
  instanceType: new ec2.InstanceType('t3.micro'),
  securityGroup: bastionSg,
  userData,
});
new ec2.LaunchTemplate(data, 'HopLimitTemplate', {
  requireImdsv2: true,
  httpPutResponseHopLimit: 3,
});
new ec2.LaunchTemplate(data, 'GoodTemplate', {
  requireImdsv2: true,
  httpPutResponseHopLimit: 1,
});

const admin = new iam.Role(data, 'AdminRole', {
  assumedBy: new iam.ServicePrincipal('ec2.amazonaws.com'),
});
admin.addToPolicy(new iam.PolicyStatement({ actions: ['*'], resources: ['*'] }));

const task = new ecs.FargateTaskDefinition(data, 'Task');
task.addContainer('app', {
  image: ecs.ContainerImage.fromRegistry('public.ecr.aws/docker/library/nginx:1.27'),
  environment: { STRIPE_SECRET_KEY: 'sk_live_51H8xJ2eZvKYlo2C0000000000000000000', PORT: '8080' },
});

new s3.Bucket(data, 'PublicBucket', {
  publicReadAccess: true,
  blockPublicAccess: new s3.BlockPublicAccess({
    blockPublicAcls: false,
    blockPublicPolicy: false,
    ignorePublicAcls: false,
    restrictPublicBuckets: false,
  }),
});

// --- EKS through the CDK L2 construct: Custom::AWSCDK-EKS-Cluster with a public endpoint,
// no control-plane logging and no secrets encryption.
const k8s = new cdk.Stack(app, 'MamoriFixtureEks', { env });
const cluster = new eks.Cluster(k8s, 'Cluster', {
  version: eks.KubernetesVersion.V1_33,
  kubectlLayer: new KubectlV33Layer(k8s, 'Kubectl'),
  endpointAccess: eks.EndpointAccess.PUBLIC,
  defaultCapacity: 0,
});
cluster.addNodegroupCapacity('Nodes', {
  instanceTypes: [new ec2.InstanceType('t3.medium')],
  minSize: 1,
  launchTemplateSpec: {
    id: new ec2.CfnLaunchTemplate(k8s, 'NodeTemplate', {
      launchTemplateData: { metadataOptions: { httpTokens: 'optional', httpPutResponseHopLimit: 2 } },
    }).ref,
  },
});

// A manifest applied through the cluster (Custom::AWSCDK-EKS-KubernetesResource): a privileged
// pod with a literal password, in the default namespace.
cluster.addManifest('Web', {
  apiVersion: 'v1',
  kind: 'Pod',
  metadata: { name: 'web', namespace: 'default' },
  spec: {
    containers: [{
      name: 'web',
      image: 'nginx:latest',
      securityContext: { privileged: true },
      env: [
        { name: 'DB_PASSWORD', value: 'Sup3r-S3cret-P4ss' },
        { name: 'DB_HOST', value: db.dbInstanceEndpointAddress },
      ],
    }],
  },
});

// The same cluster settings through the native resource (what aws-eks-v2 emits).
new eks.CfnCluster(k8s, 'NativeCluster', {
  roleArn: cluster.role.roleArn,
  resourcesVpcConfig: {
    subnetIds: cluster.vpc.publicSubnets.map((s) => s.subnetId),
    endpointPublicAccess: true,
    endpointPrivateAccess: false,
  },
  accessConfig: { bootstrapClusterCreatorAdminPermissions: true },
});

app.synth();
