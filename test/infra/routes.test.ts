// The WebSocket API carries exactly the routes of functions/routes.ts, each wired to its own function
// with its own Lambda permission, and a route response only where the table asks for one.

import { Match } from 'aws-cdk-lib/assertions';
import { describe, expect, it } from 'vitest';
import { type RouteDefinition, routeSelectionExpression, routes } from '../../functions/routes';
import { scheduledFunctions } from '../../functions/schedules';
import { functionLogicalId, synthesize } from './template';

describe('WebSocket routes from the route table', () => {
  // GIVEN the stack built from the real route table
  const { stack, template } = synthesize();

  it('creates a WebSocket API selecting routes on the route table expression', () => {
    template.resourceCountIs('AWS::ApiGatewayV2::Api', 1);
    template.hasResourceProperties('AWS::ApiGatewayV2::Api', {
      ProtocolType: 'WEBSOCKET',
      RouteSelectionExpression: routeSelectionExpression,
    });
  });

  it('creates one route per route-table entry, with exact route keys', () => {
    const routeKeys = Object.values(template.findResources('AWS::ApiGatewayV2::Route')).map(
      (route) => route.Properties.RouteKey,
    );
    expect(routeKeys.sort()).toEqual(routes.map((route) => route.routeKey).sort());
    expect(routeKeys).toEqual(expect.arrayContaining(['$connect', '$disconnect', '$default']));
  });

  it('builds one function per route (besides the scheduled ones)', () => {
    template.resourceCountIs('AWS::Lambda::Function', routes.length + scheduledFunctions.length);
    const ids = new Set(routes.map((route) => functionLogicalId(stack, route.routeKey)));
    expect(ids.size).toBe(routes.length);
  });

  it.each(routes)('wires $routeKey to its own function through a Lambda proxy integration', (route) => {
    // WHEN we follow the route to its integration
    const fnId = functionLogicalId(stack, route.routeKey);
    const [routeResource] = Object.values(
      template.findResources('AWS::ApiGatewayV2::Route', { Properties: { RouteKey: route.routeKey } }),
    );
    const target = JSON.stringify(routeResource?.Properties.Target);
    const [integrationId] = Object.keys(template.findResources('AWS::ApiGatewayV2::Integration')).filter(
      (id) => target.includes(`"Ref":"${id}"`),
    );
    // THEN the integration invokes this route's function
    expect(integrationId).toBeDefined();
    const integration = template.toJSON().Resources[integrationId as string];
    expect(integration.Properties.IntegrationType).toBe('AWS_PROXY');
    expect(JSON.stringify(integration.Properties.IntegrationUri)).toContain(
      JSON.stringify({ 'Fn::GetAtt': [fnId, 'Arn'] }),
    );
  });

  it.each(routes)(
    'lets API Gateway invoke the $routeKey function for that route (aws/aws-cdk#38148)',
    (route) => {
      template.hasResourceProperties('AWS::Lambda::Permission', {
        Action: 'lambda:InvokeFunction',
        Principal: 'apigateway.amazonaws.com',
        FunctionName: { 'Fn::GetAtt': [functionLogicalId(stack, route.routeKey), 'Arn'] },
        SourceArn: { 'Fn::Join': ['', Match.arrayWith([`/*${route.routeKey}`])] },
      });
    },
  );

  it('has exactly one Lambda permission per route', () => {
    template.resourceCountIs('AWS::Lambda::Permission', routes.length);
  });

  it.each(routes)('gives $routeKey a route response only when returnResponse is set', (route) => {
    // WHEN we look for route responses attached to this route
    const [[routeId, routeResource] = []] = Object.entries(
      template.findResources('AWS::ApiGatewayV2::Route', { Properties: { RouteKey: route.routeKey } }),
    );
    const responses = template.findResources('AWS::ApiGatewayV2::RouteResponse', {
      Properties: { RouteId: { Ref: routeId }, RouteResponseKey: '$default' },
    });
    // THEN there is one exactly when the route table asks for it
    expect(Object.keys(responses)).toHaveLength(route.returnResponse ? 1 : 0);
    expect(routeResource?.Properties.RouteResponseSelectionExpression).toBe(
      route.returnResponse ? '$default' : undefined,
    );
  });

  it('creates a $default route response for each route that returns one, and no others', () => {
    template.resourceCountIs(
      'AWS::ApiGatewayV2::RouteResponse',
      routes.filter((route) => route.returnResponse).length,
    );
    template.hasResourceProperties('AWS::ApiGatewayV2::RouteResponse', { RouteResponseKey: '$default' });
  });
});

describe('an action route added to the route table', () => {
  it('appears with its action as route key, its own function and permission, and a route response', () => {
    // GIVEN a route table with a custom action route
    const table: RouteDefinition[] = [
      ...routes,
      { routeKey: 'example', name: 'example', entry: 'functions/handlers/default.ts', returnResponse: true },
    ];
    // WHEN the stack is built from it (the permission map must name the new route too)
    const { stack, template } = synthesize({
      routes: table,
      routePermissions: Object.fromEntries(table.map((route) => [route.routeKey, {}])),
    });
    // THEN
    template.hasResourceProperties('AWS::ApiGatewayV2::Route', {
      RouteKey: 'example',
      RouteResponseSelectionExpression: '$default',
    });
    template.hasResourceProperties('AWS::Lambda::Permission', {
      FunctionName: { 'Fn::GetAtt': [functionLogicalId(stack, 'example'), 'Arn'] },
      SourceArn: { 'Fn::Join': ['', Match.arrayWith(['/*example'])] },
    });
    template.resourceCountIs('AWS::Lambda::Function', table.length + scheduledFunctions.length);
  });

  it('is refused when the permission map has no entry for it', () => {
    const table: RouteDefinition[] = [
      ...routes,
      {
        routeKey: 'unmapped',
        name: 'unmapped',
        entry: 'functions/handlers/default.ts',
        returnResponse: true,
      },
    ];
    expect(() => synthesize({ routes: table })).toThrow(
      /route unmapped has no entry in the route permission map/,
    );
  });

  it('refuses a permission map entry that names no route', () => {
    expect(() =>
      synthesize({ routePermissions: { $connect: {}, $disconnect: {}, $default: {}, typo: {} } }),
    ).toThrow(/permission map entry typo names no route/);
  });
});
