import { NavLink } from 'react-router-dom'

const PAGES = [
  ['/mappings/types', 'Work item types'],
  ['/mappings/hierarchies', 'Hierarchies'],
  ['/mappings/statuses', 'Statuses'],
  ['/mappings/workflows', 'Workflows'],
] as const

/** The four mapping pages, one after the other. */
export function MappingsNav() {
  return (
    <nav aria-label="Mappings" className="subnav">
      <ul>
        {PAGES.map(([to, label]) => (
          <li key={to}>
            <NavLink to={to}>{label}</NavLink>
          </li>
        ))}
      </ul>
    </nav>
  )
}
