/**
 * A provider keeps running when its tab goes to another page of the app
 * (issue 21 #7): the top bar says so on every page, with a link back.
 */
import { useEffect, useState } from 'react';
import { useObservable } from '../app/hooks';
import { startedProvider } from './boot';
import type { ProviderNode } from './provider-node';

export function ProvidingIndicator() {
  const runtime = startedProvider();
  const [node, setNode] = useState<ProviderNode>();
  useEffect(() => void runtime?.node.then(setNode, () => undefined), [runtime]);
  return node ? <Indicator node={node} /> : null;
}

function Indicator({ node }: { node: ProviderNode }) {
  const view = useObservable(node.view);
  const text = view.paused ? 'provider paused' : view.running ? 'providing: computing' : 'providing';
  return (
    <a className="providing" href="#/provide" data-testid="providing-indicator" title="This tab is a provider">
      ● {text}
    </a>
  );
}
