/** The app's route, kept in the URL hash so pages can be bookmarked and reloaded. */
import { create } from 'zustand';

export type Route = 'home' | 'provide' | 'request' | 'train' | 'rl';

function routeFromHash(hash: string): Route {
  if (hash.startsWith('#/provide')) return 'provide';
  if (hash.startsWith('#/request')) return 'request';
  if (hash.startsWith('#/train')) return 'train';
  if (hash.startsWith('#/rl')) return 'rl';
  return 'home';
}

interface RouteState {
  route: Route;
  go(route: Route): void;
}

export const useRoute = create<RouteState>((set) => ({
  route: routeFromHash(location.hash),
  go(route) {
    location.hash = route === 'home' ? '#/' : `#/${route}`;
    set({ route });
  },
}));

addEventListener('hashchange', () => useRoute.setState({ route: routeFromHash(location.hash) }));
