// An optional custom domain for the devices' WebSocket URL (wss://collab.example.com): a regional API Gateway
// domain name with the given ACM certificate, TLS 1.2, mapped to the stage. DNS stays with the operator: the
// output names the target to point a CNAME (or alias) at.

import { CfnOutput } from 'aws-cdk-lib';
import {
  ApiMapping,
  DomainName,
  SecurityPolicy,
  type WebSocketApi,
  type WebSocketStage,
} from 'aws-cdk-lib/aws-apigatewayv2';
import { Certificate } from 'aws-cdk-lib/aws-certificatemanager';
import { Construct } from 'constructs';

export interface CustomDomainProps {
  /** e.g. `collab.example.com`. */
  readonly domainName: string;
  /** ACM certificate for the domain, in the stack's region. */
  readonly certificateArn: string;
  readonly api: WebSocketApi;
  readonly stage: WebSocketStage;
}

export class CustomDomain extends Construct {
  readonly domain: DomainName;
  readonly url: string;

  constructor(scope: Construct, id: string, props: CustomDomainProps) {
    super(scope, id);
    this.domain = new DomainName(this, 'Domain', {
      domainName: props.domainName,
      certificate: Certificate.fromCertificateArn(this, 'Certificate', props.certificateArn),
      securityPolicy: SecurityPolicy.TLS_1_2,
    });
    new ApiMapping(this, 'Mapping', { api: props.api, domainName: this.domain, stage: props.stage });
    this.url = `wss://${props.domainName}`;
    new CfnOutput(this, 'Url', {
      description: 'Where devices connect, on the custom domain',
      value: this.url,
    });
    new CfnOutput(this, 'DnsTarget', {
      description: `Point a CNAME (or alias) for ${props.domainName} at this`,
      value: this.domain.regionalDomainName,
    });
  }
}
