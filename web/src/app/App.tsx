import { ProviderPage } from '../provider/ProviderPage';
import { ProvidingIndicator } from '../provider/ProvidingIndicator';
import { Dashboard } from '../requester/Dashboard';
import { TrainView } from '../train/TrainView';
import { RlView } from '../rl/RlView';
import { Landing } from './Landing';
import { useRoute } from './route-store';

export function App() {
  const { route, go } = useRoute();
  return (
    <div className="app">
      <header className="topbar">
        <a className="brand" href="#/" onClick={() => go('home')}>
          Basilica · Templar
        </a>
        <nav>
          <a href="#/provide" className={route === 'provide' ? 'active' : ''}>
            Provide compute
          </a>
          <a href="#/request" className={route === 'request' ? 'active' : ''}>
            Run a job
          </a>
          <a href="#/train" className={route === 'train' ? 'active' : ''}>
            Train a model
          </a>
          <a href="#/rl" className={route === 'rl' ? 'active' : ''}>
            Reinforce (GRAIL)
          </a>
          {route !== 'provide' && <ProvidingIndicator />}
        </nav>
      </header>
      <main>
        {route === 'provide' && <ProviderPage />}
        {route === 'request' && <Dashboard />}
        {route === 'train' && <TrainView />}
        {route === 'rl' && <RlView />}
        {route === 'home' && <Landing />}
      </main>
    </div>
  );
}
