//! CloudFormation checks on self-written templates (YAML short forms and JSON).

use mamori_config::{scan_source, DiagnosticLevel, Settings};

fn findings(path: &str, text: &str) -> Vec<(String, u32, String)> {
    let r = scan_source(path, text, &Settings::default());
    assert!(
        r.diagnostics
            .iter()
            .all(|d| d.level == DiagnosticLevel::Warning),
        "{:?}",
        r.diagnostics
    );
    r.findings
        .into_iter()
        .map(|f| (f.rule_id, f.location.line.unwrap_or(0), f.message))
        .collect()
}

fn count(f: &[(String, u32, String)], id: &str) -> usize {
    f.iter().filter(|(i, _, _)| i == id).count()
}

const SG: &str = r#"AWSTemplateFormatVersion: "2010-09-09"
Parameters:
  SSHLocation:
    Type: String
    Default: 0.0.0.0/0
  DBPassword:
    Type: String
Resources:
  Web:
    Type: AWS::EC2::SecurityGroup
    Properties:
      GroupDescription: web
      SecurityGroupIngress:
        - {IpProtocol: tcp, FromPort: 443, ToPort: 443, CidrIp: 0.0.0.0/0}
        - {IpProtocol: tcp, FromPort: 80, ToPort: 80, CidrIpv6: ::/0}
        - {IpProtocol: "-1", CidrIp: 0.0.0.0/0}
        - {IpProtocol: tcp, FromPort: 22, ToPort: 22, CidrIp: !Ref SSHLocation}
        - {IpProtocol: tcp, FromPort: 3306, ToPort: 3306, CidrIpv6: ::/0}
        - {IpProtocol: tcp, FromPort: 0, ToPort: 65535, CidrIp: 0.0.0.0/0}
        - {IpProtocol: tcp, FromPort: 22, ToPort: 22, CidrIp: 10.0.0.0/8}
  Extra:
    Type: AWS::EC2::SecurityGroupIngress
    Properties:
      GroupId: !Ref Web
      IpProtocol: tcp
      FromPort: !GetAtt Db.Endpoint.Port
      ToPort: !GetAtt Db.Endpoint.Port
      CidrIp: 0.0.0.0/0
"#;

#[test]
fn security_groups() {
    let f = findings("sg.yaml", SG);
    let sg: Vec<&(String, u32, String)> = f.iter().filter(|(i, _, _)| i == "MK-CFN-001").collect();
    let lines: Vec<u32> = sg.iter().map(|(_, l, _)| *l).collect();
    assert_eq!(lines, vec![16, 17, 18, 19, 24], "{sg:?}");
    assert!(sg[0].2.contains("all protocols"));
    assert!(sg[1].2.contains("SSH"));
    assert!(sg[2].2.contains("MySQL") && sg[2].2.contains("::/0"));
    assert!(sg[3].2.contains("wide"));
    assert!(sg[4].2.contains("intrinsic"));
    assert_eq!(count(&f, "MK-CFN-013"), 1, "DBPassword without NoEcho");
}

const DATA: &str = r##"{
  "Resources": {
    "Db": {
      "Type": "AWS::RDS::DBInstance",
      "Properties": {
        "Engine": "postgres",
        "PubliclyAccessible": true,
        "MasterUserPassword": "hunter2hunter2"
      }
    },
    "SafeDb": {
      "Type": "AWS::RDS::DBInstance",
      "Properties": {
        "Engine": "postgres",
        "StorageEncrypted": true,
        "MasterUserPassword": "{{resolve:secretsmanager:db:SecretString:password}}"
      }
    },
    "Policy": {
      "Type": "AWS::IAM::ManagedPolicy",
      "Properties": {"PolicyDocument": {"Statement": [{"Effect": "Allow", "Action": "*", "Resource": ["*"]}]}}
    },
    "Bucket": {
      "Type": "AWS::S3::Bucket",
      "Properties": {"AccessControl": "PublicRead", "PublicAccessBlockConfiguration": {"BlockPublicAcls": false}}
    },
    "Fn": {
      "Type": "AWS::Lambda::Function",
      "Properties": {"Environment": {"Variables": {"API_TOKEN": "ghp_abcdefghijklmnopqrstuvwxyz0123456789", "STAGE": "prod", "DB_PASSWORD": {"Ref": "Pw"}}}}
    },
    "Task": {
      "Type": "AWS::ECS::TaskDefinition",
      "Properties": {"ContainerDefinitions": [{"Name": "a", "Environment": [{"Name": "DB_PASSWORD", "Value": "Sup3rS3cret"}]}]}
    },
    "Host": {
      "Type": "AWS::EC2::Instance",
      "Properties": {"UserData": {"Fn::Base64": {"Fn::Join": ["", ["#!/bin/bash\n", "export AWS_ACCESS_KEY_ID=AKIAIOSFODNN7EXAMPLE\n"]]}}}
    }
  }
}
"##;

#[test]
fn data_iam_s3_and_env_secrets_in_json() {
    let f = findings("t.json", DATA);
    assert_eq!(count(&f, "MK-CFN-002"), 1);
    assert_eq!(count(&f, "MK-CFN-003"), 1, "only the unencrypted instance");
    assert_eq!(count(&f, "MK-CFN-004"), 1, "resolve: is fine");
    assert_eq!(count(&f, "MK-CFN-010"), 1);
    assert_eq!(count(&f, "MK-CFN-011"), 2);
    assert_eq!(count(&f, "MK-CFN-012"), 3, "{f:?}");
    assert!(f
        .iter()
        .all(|(_, _, m)| !m.contains("hunter2hunter2") && !m.contains("IOSFODNN7")));
}

const EKS: &str = r#"Resources:
  Cluster:
    Type: AWS::EKS::Cluster
    Properties:
      RoleArn: !GetAtt Role.Arn
      ResourcesVpcConfig:
        SubnetIds: [a, b]
  Private:
    Type: AWS::EKS::Cluster
    Metadata:
      mamori:
        skip: [MK-CFN-006]
    Properties:
      ResourcesVpcConfig:
        EndpointPublicAccess: true
        PublicAccessCidrs: [203.0.113.0/24]
      EncryptionConfig: [{Resources: [secrets], Provider: {KeyArn: !GetAtt Key.Arn}}]
      AccessConfig: {BootstrapClusterCreatorAdminPermissions: false}
  Cdk:
    Type: Custom::AWSCDK-EKS-Cluster
    Properties:
      Config:
        resourcesVpcConfig: {endpointPublicAccess: true}
        logging: {clusterLogging: [{enabled: true, types: [api]}]}
  Lt:
    Type: AWS::EC2::LaunchTemplate
    Properties:
      LaunchTemplateData:
        MetadataOptions: {HttpTokens: optional, HttpPutResponseHopLimit: 3}
  GoodLt:
    Type: AWS::EC2::LaunchTemplate
    Properties:
      LaunchTemplateData:
        MetadataOptions: {HttpTokens: required, HttpPutResponseHopLimit: 2}
  Odd:
    Type: {Rain::Module: ./x.yaml}
  Unknown:
    Type: Acme::Widget::Thing
"#;

#[test]
fn eks_launch_templates_suppressions_and_odd_types() {
    let r = scan_source("eks.yaml", EKS, &Settings::default());
    let c = |id: &str| r.findings.iter().filter(|f| f.rule_id == id).count();
    assert_eq!(c("MK-CFN-005"), 2, "Cluster and Cdk");
    assert_eq!(
        c("MK-CFN-006"),
        2,
        "Private is skipped by Metadata.mamori.skip"
    );
    assert_eq!(c("MK-CFN-007"), 2);
    assert_eq!(c("MK-CFN-008"), 2);
    assert_eq!(c("MK-CFN-009"), 2, "tokens optional and hop limit 3");
    let warnings: Vec<&str> = r.diagnostics.iter().map(|d| d.message.as_str()).collect();
    assert_eq!(warnings.len(), 2, "{warnings:?}");
    assert!(warnings[0].contains("Odd") && warnings[1].contains("Acme::Widget::Thing"));
}
